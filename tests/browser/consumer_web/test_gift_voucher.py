"""Buying a gift voucher for oneself on the phone: the amount, Stripe Checkout (the
local stand-in, which the buy page's CSP must let the form's redirect reach), the
signed webhook, and the euros in the wallet."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.browser.consumer_web.conftest import NewPhone
from tests.browser.consumer_web.flows import collect
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_shop
from tests.stripe_stub import StripeStub


def test_a_voucher_bought_on_the_phone_lands_in_the_wallet(
    new_phone: NewPhone, session: Session, stripe_live_server: tuple[LiveServer, StripeStub]
) -> None:
    server, stub = stripe_live_server
    phone = new_phone("nl", server=server)
    page, w = phone.page, phone.words
    scheme = make_scheme(session)
    collect(phone, make_shop(session, scheme, name="Bakkerij Cadeau"), 1000)  # the wallet

    phone.goto("/wallet")
    page.get_by_role("link", name=w("Buy a gift voucher")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cadeaubon kopen")
    phone.check("voucher-buy-nl")
    page.get_by_label(w.euro(2500)).check()
    page.get_by_label(w("For myself: add it to my wallet")).check()
    page.get_by_role("button", name=w("Pay by card or Bancontact")).click()

    expect(page).to_have_url(re.compile(re.escape(stub.url) + r"/c/pay/cs_test_\w+$"))
    expect(page.locator("#amount")).to_have_text("25.00 EUR")
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(page).to_have_url(re.compile(r"/vouchers/paid\?session_id=cs_test_\w+$"))
    expect(page.locator("h1")).to_have_text("+" + w.euro(2500))
    expect(page.locator("#euro-balance")).to_contain_text(w.euro(2500))
    phone.check("voucher-paid-nl")
    page.get_by_role("link", name=w("To my wallet")).click()
    credit = page.locator("section.euros")
    expect(credit.locator(".big")).to_have_text(w.euro(2500))
    expect(credit).to_contain_text(w.euro(2500) + " van een cadeaubon of opwaardering")
