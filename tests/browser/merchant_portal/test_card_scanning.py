"""The till scans the shopper's card: a printed card shown to the tablet's camera."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from loyalty.models import Merchant, Scheme
from loyalty.shoppers import printed_cards
from tests.browser.camera import camera_args, qr_video
from tests.browser.merchant_portal.conftest import PortalShop
from tests.browser.tablet import LOCALES, TABLET, Tablet
from tests.conftest import BROWSER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, LiveServer


@pytest.fixture
def card(session: Session, portal_shop: PortalShop) -> str:
    """A printed card of the shop's scheme: its 12 digits."""
    merchant = session.get_one(Merchant, portal_shop.merchant_id)
    scheme = session.get_one(Scheme, merchant.scheme_id)
    [new] = printed_cards.issue_cards(session, scheme, 1, merchant=merchant)
    number = new.card.number
    session.commit()
    return number


@pytest.fixture
def camera_browser(playwright: Any, card: str, tmp_path: Path) -> Iterator[Browser]:
    """A Chromium whose camera films the printed card."""
    video = qr_video(card, tmp_path / "card.y4m")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *camera_args(video)]
    )
    yield browser
    browser.close()


def test_the_till_scans_a_printed_card_with_the_camera(
    camera_browser: Browser, live_server: LiveServer, portal_shop: PortalShop, card: str,
    session: Session,
) -> None:
    context = camera_browser.new_context(
        viewport=TABLET, locale=LOCALES["en"], permissions=["camera"]
    )
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    tablet = Tablet(context, context.new_page(), live_server, "en")
    page = tablet.page
    tablet.sign_in(portal_shop.cashier_email)
    page.get_by_label("Amount of the sale (€)").fill("30,00")
    tablet.submit(page.get_by_role("button", name="Give points"))
    expect(page.locator(".sale-screen")).to_have_attribute("data-state", "open")

    # The cashier holds the card to the camera: no typing, no phone.
    page.get_by_role("button", name="Scan a card with the camera").click()
    expect(page.locator(".sale-screen")).to_have_attribute("data-state", "claimed")
    expect(page.locator(".big-ok")).to_have_text(
        "Claimed! The points are in the shopper's wallet."
    )
    found = printed_cards.card_by_number(session, portal_shop_scheme(session, portal_shop), card)
    assert printed_cards.balance(session, found) == 30
    session.rollback()  # end the read: on SQLite it would hold up the server's writes
    context.close()
    assert not tablet.problems(), tablet.problems()


def portal_shop_scheme(session: Session, shop: PortalShop) -> int:
    return session.get_one(Merchant, shop.merchant_id).scheme_id
