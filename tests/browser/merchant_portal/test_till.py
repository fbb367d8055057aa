"""The till at a sale: type the amount, show the QR code, turn green when the phone collects."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.merchant_portal.conftest import NewTablet, PortalShop
from tests.browser.tablet import (
    claim_token,
    collect,
    euro,
    new_wallet,
    squash,
    till_sale,
)
from tests.conftest import LiveServer

GREEN = "rgb(11, 93, 59)"  # --green of staff.css
CLAIMED = "Claimed! The points are in the shopper's wallet."


def test_sale_shows_a_qr_code_that_turns_green_when_collected(
    new_tablet: NewTablet, portal_shop: PortalShop, live_server: LiveServer
) -> None:
    # Two earlier sales from the shop's till system, one of them collected.
    wallet = new_wallet(live_server, portal_shop.scheme_slug)
    earlier = till_sale(live_server, portal_shop.till_key, amount_cents=1250)
    collect(live_server, wallet, earlier["token"])
    till_sale(live_server, portal_shop.till_key, amount_cents=799)

    tablet = new_tablet("en")
    page = tablet.page
    tablet.goto("/login")
    tablet.check("login")
    tablet.sign_in(portal_shop.cashier_email)
    expect(page).to_have_url(re.compile(r"/portal/till$"))
    expect(page.locator("h1")).to_have_text("Give points")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)

    # The number pad works like a card terminal: the digits come in from the right.
    amount = page.get_by_label("Amount of the sale (€)")
    tablet.press_keys("2")
    expect(amount).to_have_value("0,02")
    tablet.press_keys("35")
    expect(amount).to_have_value("2,35")
    tablet.press_keys("0")
    expect(amount).to_have_value("23,50")
    tablet.check("till")

    tablet.submit(page.get_by_role("button", name="Give points"))
    expect(page).to_have_url(re.compile(r"/portal/till/sales/\d+$"))
    screen = page.locator(".sale-screen")
    expect(screen).to_have_attribute("data-state", "open")
    expect(page.locator("h1")).to_have_text("23 points")
    expect(page.locator(".amount-line")).to_have_text(f"Sale of {euro(2350)}")

    # The QR code is shown full-size, whole on the screen without scrolling.
    qr = screen.locator(".qr")
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] >= 400 and box["height"] >= 400, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= 768, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1024, box
    url = tablet.qr_text(qr)
    token = claim_token(url, live_server)
    tablet.check("sale")

    # The shopper's phone collects while the till's page stays open.
    page.evaluate("() => { window.tillMarker = 'not reloaded'; }")
    documents = len(tablet.documents)
    done = collect(live_server, new_wallet(live_server, portal_shop.scheme_slug), token)
    assert done["points_credited"] == 23

    expect(screen).to_have_attribute("data-state", "claimed", timeout=5_000)
    expect(screen.locator(".state")).to_have_text(CLAIMED)
    assert page.evaluate("() => window.tillMarker") == "not reloaded"
    assert len(tablet.documents) == documents, "the page was loaded again"
    assert screen.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    expect(qr).to_be_hidden()
    # The same as the page shows when loaded after the claim: nothing left to do but next.
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(page.get_by_role("button", name="Give to the card")).to_have_count(0)
    expect(page.get_by_role("link", name="Next sale")).to_be_focused()
    tablet.check("claimed")

    page.get_by_role("link", name="Next sale").click()
    expect(page).to_have_url(re.compile(r"/portal/till$"))
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("claimed")
    assert squash(rows.first.locator("td").nth(1).inner_text()) == euro(2350)
    tablet.screenshot("till-sales")


def test_till_works_without_javascript(
    new_tablet: NewTablet, portal_shop: PortalShop, live_server: LiveServer
) -> None:
    tablet = new_tablet("en", javascript=False)
    page = tablet.page
    tablet.sign_in(portal_shop.cashier_email)
    # No number pad that would do nothing: the amount is typed in the field.
    expect(page.locator(".pad")).to_be_hidden()
    page.get_by_label("Amount of the sale (€)").fill("7,95")
    tablet.submit(page.get_by_role("button", name="Give points"))
    expect(page.locator("h1")).to_have_text("7 points")
    token = claim_token(tablet.qr_text(page.locator(".sale-screen .qr")), live_server)
    collect(live_server, new_wallet(live_server, portal_shop.scheme_slug), token)

    # Without the script the page does not change by itself; loaded again, it is green.
    expect(page.locator(".sale-screen")).to_have_attribute("data-state", "open")
    tablet.goto(page.url)
    screen = page.locator(".sale-screen")
    expect(screen).to_have_attribute("data-state", "claimed")
    expect(screen.locator(".state")).to_have_text(CLAIMED)
    assert screen.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    expect(page.get_by_role("button", name="Give to the card")).to_have_count(0)
    tablet.screenshot("claimed-nojs")


@pytest.mark.parametrize("lang", ["nl", "fr", "en"])
def test_the_owners_till_fits_the_tablet(
    new_tablet: NewTablet, portal_shop: PortalShop, lang: str
) -> None:
    """With the owner's menu the keypad and its button are on the first screen at
    1024x768 (nine menu items used to wrap and push them below the fold)."""
    tablet = new_tablet(lang)
    tablet.sign_in(portal_shop.owner_email)
    tablet.goto("/portal/till")
    button = tablet.page.locator("form.sale-form button[type=submit]")
    box = button.bounding_box()
    tablet.screenshot(f"till-owner-{lang}")
    assert box is not None and box["y"] + box["height"] <= 768, box
    width = tablet.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1024, width
    tablet.check(f"till-owner-{lang}")
