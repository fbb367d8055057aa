"""Browser fixtures for the merchant portal: Debian's chromium at a tablet's size.

The browser is the run's shared one (tests/conftest.py); every test gets fresh
browser contexts (a context is one tablet: its own cookies, one staff member).
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser
from sqlalchemy.orm import Session

from loyalty.models import Role, Scheme
from tests.browser.tablet import LOCALES, TABLET, Tablet
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_scheme, make_shop, make_user

TIMEOUT_MS = BROWSER_TIMEOUT_MS

NewTablet = Callable[..., Tablet]


@pytest.fixture
def new_tablet(browser: Browser, live_server: LiveServer) -> Iterator[NewTablet]:
    """Make tablets at 1024x768; after the test, every page of every tablet must have
    kept to 127.0.0.1, caused no console error, CSP violation or script error, and
    carried the CSP header."""
    tablets: list[Tablet] = []

    def make(
        lang: str = "en", *, javascript: bool = True, server: LiveServer | None = None
    ) -> Tablet:
        """``server``: another live server than the suite's (such as one with Stripe)."""
        server = server or live_server
        context = browser.new_context(
            viewport=TABLET,
            screen={"width": TABLET["width"], "height": TABLET["height"]},
            device_scale_factor=1,
            has_touch=True,
            locale=LOCALES[lang],
            java_script_enabled=javascript,
        )
        if lang != "nl":
            # The portal's Dutch texts are still being written: the language cookie
            # keeps English assertions independent of that work.
            context.add_cookies([{"name": "lang", "value": lang, "url": server.url}])
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        tablet = Tablet(context, context.new_page(), server, lang)
        tablets.append(tablet)
        return tablet

    yield make
    problems = []
    for tablet in tablets:
        tablet.context.close()
        problems += tablet.problems()
    assert not problems, "\n".join(problems)


@dataclass(frozen=True)
class PortalShop:
    """An approved shop in its own scheme (or a given one), with a till key, an owner and
    a cashier; plain values, so that no test holds a database transaction open."""

    scheme_slug: str
    merchant_id: int
    name: str
    till_key: str
    owner_email: str
    cashier_email: str


def make_portal_shop(session: Session, scheme: Scheme | None = None, **kw: Any) -> PortalShop:
    """``kw`` goes to tests.factories.make_merchant (such as the shop's name)."""
    shop = make_shop(session, scheme or make_scheme(session), **kw)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    cashier = make_user(session, shop.scheme, Role.CASHIER, shop.merchant)
    made = PortalShop(
        scheme_slug=shop.scheme.slug,
        merchant_id=shop.merchant.id,
        name=shop.merchant.name,
        till_key=shop.till_key,
        owner_email=owner.email,
        cashier_email=cashier.email,
    )
    # End the read: on SQLite an open transaction would hold up the live server's writes.
    session.rollback()
    return made


@pytest.fixture
def portal_shop(session: Session) -> PortalShop:
    return make_portal_shop(session)
