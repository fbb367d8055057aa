"""The phone's card at the till: the cashier scans it, the phone taps nothing."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.browser.consumer_web.conftest import NewPhone
from tests.browser.consumer_web.flows import collect, expect_wallet
from tests.browser.consumer_web.phone import decode_qr
from tests.browser.tablet import LOCALES, TABLET, Tablet
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_scheme, make_shop, make_user


def test_the_till_scans_the_phones_card_and_spending_still_needs_the_shopper(
    new_phone: NewPhone, browser: Browser, session: Session, live_server: LiveServer
) -> None:
    phone = new_phone("nl")
    page, w = phone.page, phone.words
    shop = make_shop(session, make_scheme(session), name="Bakkerij De Smet")
    cashier = make_user(session, shop.scheme, Role.CASHIER, shop.merchant).email
    session.rollback()
    collect(phone, shop, 1000)

    # The wallet shows its card: a QR code of 12 digits, the number under it.
    phone.goto("/wallet")
    page.get_by_role("link", name=w("Show my card for the till")).click()
    expect(page.locator("h1")).to_have_text(w("My card for the till"))
    shown = page.locator(".card-number").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{12}", shown), shown
    assert decode_qr(page.locator(".qr svg").screenshot()) == [shown]
    phone.check("card-nl")
    phone.goto("/wallet/card")  # the same card every time
    assert page.locator(".card-number").inner_text().replace(" ", "") == shown

    # The till's USB scanner types the digits and Enter into the card field.
    context = browser.new_context(viewport=TABLET, locale=LOCALES["en"])
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    tablet = Tablet(context, context.new_page(), live_server, "en")
    till = tablet.page
    tablet.sign_in(cashier)
    till.get_by_label("Amount of the sale (€)").fill("12,00")
    tablet.submit(till.get_by_role("button", name="Give points"))
    field = till.get_by_label("Card number")
    field.press_sequentially(shown)
    with till.expect_navigation():
        field.press("Enter")
    expect(till.locator(".sale-screen")).to_have_attribute("data-state", "claimed")
    tablet.check("sale-card-scanned")

    phone.goto("/wallet")
    expect_wallet(phone, 10 + 12)

    # Spending by scanning the phone's card is refused: the shopper makes a spend code.
    tablet.goto("/portal/redeem")
    form = till.locator("form", has=till.get_by_label("PIN"))
    form.get_by_label("Printed card number").fill(shown)
    form.get_by_label("Points to spend").fill("5")
    form.get_by_label("PIN").fill("1234")
    tablet.submit(form.get_by_role("button", name="Spend from the card"), 409)
    expect(form.locator("#number-error")).to_have_text(
        "This card is on the shopper's phone: ask for a spend code from the wallet."
    )
    phone.goto("/wallet")
    expect_wallet(phone, 22)
    context.close()
    assert not tablet.problems(), tablet.problems()
