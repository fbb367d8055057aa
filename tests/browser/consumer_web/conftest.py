"""Browser fixtures: Debian's chromium driven by Playwright, at a phone's size.

The browser is started once per test run; every test gets fresh browser
contexts (a context is a phone: its own cookies, storage and service worker).
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.consumer_web.phone import LOCALES, PHONE_VIEWPORT, Phone
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer

TIMEOUT_MS = BROWSER_TIMEOUT_MS

NewPhone = Callable[..., Phone]


@pytest.fixture
def new_phone(browser: Browser, live_server: LiveServer) -> Iterator[NewPhone]:
    """Make phones; after the test, every page of every phone must have kept to
    127.0.0.1, caused no CSP violation or script error, and carried the CSP header."""
    phones: list[Phone] = []

    def make(
        lang: str = "nl", *, javascript: bool = True, server: LiveServer | None = None
    ) -> Phone:
        context = browser.new_context(
            viewport=PHONE_VIEWPORT,
            screen=PHONE_VIEWPORT,
            device_scale_factor=1,
            is_mobile=True,
            has_touch=True,
            locale=LOCALES[lang],
            java_script_enabled=javascript,
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        # Another server: the one with Stripe turned on (stripe_live_server).
        phone = Phone(context, context.new_page(), server or live_server, lang, javascript)
        phones.append(phone)
        return phone

    yield make
    problems = []
    for phone in phones:
        phone.context.close()
        problems += phone.problems()
    assert not problems, "\n".join(problems)


@pytest.fixture
def phone(new_phone: NewPhone) -> Phone:
    """A Flemish shopper's phone (browser language nl-BE), JavaScript on."""
    return new_phone("nl")


@pytest.fixture
def page(phone: Phone) -> Page:
    """The phone's page, 390x844."""
    return phone.page
