"""Redeeming at the till: a typed spend code, and a stamp card's voucher."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.browser.merchant_portal.conftest import NewTablet, PortalShop, make_portal_shop
from tests.browser.tablet import (
    Tablet,
    claim_token,
    code_status,
    collect,
    euro,
    new_wallet,
    spend_code,
    till_sale,
    wallet_view,
)
from tests.conftest import LiveServer
from tests.factories import make_scheme


def _look_up(tablet: Tablet, code: str, status: int = 200) -> None:
    """Type the code the shopper's phone shows ("1234 5678") and look it up."""
    page = tablet.page
    if not page.url.endswith("/portal/redeem"):
        tablet.goto("/portal/redeem")
    page.get_by_label("Spend code").fill(f"{code[:4]} {code[4:]}")
    tablet.submit(page.get_by_role("button", name="Look up"), status)


def test_cashier_redeems_a_typed_spend_code(
    new_tablet: NewTablet, portal_shop: PortalShop, live_server: LiveServer
) -> None:
    wallet = new_wallet(live_server, portal_shop.scheme_slug)
    sale = till_sale(live_server, portal_shop.till_key, amount_cents=4000)
    collect(live_server, wallet, sale["token"])
    code = spend_code(live_server, wallet, points=20)["code"]
    discount = euro(20 * 5)  # the scheme's point value: 5 cents

    tablet = new_tablet("en")
    page = tablet.page
    tablet.sign_in(portal_shop.cashier_email)
    page.get_by_role("link", name="Redeem").click()
    expect(page.locator("h1")).to_have_text("Redeem a spend code")
    expect(page.get_by_label("Spend code")).to_be_focused()
    tablet.check("redeem")
    # This tablet has no camera: the scanner says so, and shows no empty black video box.
    scanner = page.locator(".scanner")
    expect(scanner.locator("video")).to_be_hidden()
    scanner.get_by_role("button", name="Start the camera").click()
    expect(scanner.get_by_role("status")).to_have_text(
        "The camera cannot be used here. Type the code instead."
    )

    _look_up(tablet, code)
    expect(page).to_have_url(re.compile(rf"/portal/redeem/{code}$"))
    expect(page.locator("h1")).to_have_text(f"Redeem 20 points = {discount} discount")
    tablet.check("redeem-code")
    assert code_status(live_server, wallet, code)["status"] == "held"

    tablet.submit(page.get_by_role("button", name="Confirm"))
    done = page.get_by_role("heading", level=1)
    expect(done).to_have_text(f"Done: give {discount} discount")
    expect(page.get_by_role("status")).to_contain_text(f"Done: give {discount} discount")
    tablet.check("redeem-done")
    used = code_status(live_server, wallet, code)
    assert (used["status"], used["merchant"]) == ("confirmed", portal_shop.name)
    assert wallet_view(live_server, wallet)["balance"] == 20

    # The same code a second time, and a code that does not exist.
    page.get_by_role("link", name="Next code").click()
    _look_up(tablet, code)
    expect(page.locator("h1")).to_have_text("This code was already used")
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    _look_up(tablet, "0000" + code[4:] if code[:4] != "0000" else "1111" + code[4:], 404)
    expect(page.locator(".error")).to_have_text("This code does not exist. Check the digits.")


def test_stamp_card_voucher_is_redeemed_at_its_own_shop_only(
    new_tablet: NewTablet, session: Session, live_server: LiveServer
) -> None:
    scheme = make_scheme(session)
    bakery = make_portal_shop(session, scheme)
    butcher = make_portal_shop(session, scheme)
    wallet = new_wallet(live_server, bakery.scheme_slug)

    # The owner defines a stamp card: two stamps for a free coffee.
    owner = new_tablet("en")
    owner.sign_in(bakery.owner_email)
    owner.goto("/portal/stamp-cards")
    owner.page.get_by_label("Name of the card").fill("Coffee card")
    owner.page.get_by_label("Stamps for a full card").fill("2")
    owner.page.get_by_label("Reward for a full card").fill("A free coffee")
    owner.submit(owner.page.get_by_role("button", name="Create the stamp card"))
    expect(owner.page.locator(".notice")).to_contain_text("The stamp card is ready")

    # Two sales with a stamp each at the till; the same phone collects both.
    tablet = new_tablet("en")
    page = tablet.page
    tablet.sign_in(bakery.cashier_email)
    for n in (1, 2):
        page.get_by_label("Amount of the sale (€)").fill("5,00")
        page.get_by_label("Stamps", exact=True).fill("1")
        expect(page.get_by_label("Stamp card")).to_have_value(re.compile(r"^\d+$"))
        expect(page.get_by_label("Stamp card").locator("option:checked")).to_have_text(
            "Coffee card"
        )
        tablet.submit(page.get_by_role("button", name="Give points"))
        expect(page.locator("h1")).to_have_text("5 points + 1 stamp")
        token = claim_token(tablet.qr_text(page.locator(".sale-screen .qr")), live_server)
        done = collect(live_server, wallet, token)
        assert (done["stamps_credited"], done["vouchers_created"]) == (1, n - 1)
        expect(page.locator(".sale-screen")).to_have_attribute("data-state", "claimed")
        page.get_by_role("link", name="Next sale").click()

    [voucher] = wallet_view(live_server, wallet)["vouchers"]
    assert (voucher["reward"], voucher["merchant"]) == ("A free coffee", bakery.name)
    code = spend_code(live_server, wallet, voucher_id=voucher["id"])["code"]
    _look_up(tablet, code)
    expect(page.locator("h1")).to_have_text("Voucher: A free coffee")
    tablet.check("redeem-voucher")
    tablet.submit(page.get_by_role("button", name="Confirm"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Done: give A free coffee")
    assert code_status(live_server, wallet, code)["status"] == "confirmed"
    assert wallet_view(live_server, wallet)["vouchers"] == []

    # Another full card from the bakery's till system; its voucher shown at the butcher's.
    [card] = owner.page.context.request.get(
        live_server.api(f"/merchants/{bakery.merchant_id}/stamp-cards")
    ).json()
    sale = till_sale(live_server, bakery.till_key, stamps=2, stamp_card_id=card["id"])
    assert collect(live_server, wallet, sale["token"])["vouchers_created"] == 1
    [voucher] = wallet_view(live_server, wallet)["vouchers"]
    code = spend_code(live_server, wallet, voucher_id=voucher["id"])["code"]
    butcher_till = new_tablet("en")
    butcher_till.sign_in(butcher.cashier_email)
    _look_up(butcher_till, code)
    expect(butcher_till.page.locator("h1")).to_have_text("This voucher belongs to another shop")
    expect(butcher_till.page.get_by_role("button", name="Confirm")).to_have_count(0)
    butcher_till.check("redeem-other-shop")
    assert code_status(live_server, wallet, code)["status"] == "held"
