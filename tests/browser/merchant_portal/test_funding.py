"""The prepaid balance at tablet size: the admin records a shop's bank transfer,
the owner sees the instructions, the balance and its history (axe-core on both)."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.models import Role
from loyalty.money import funding
from loyalty.money.settlement import bank_accounts
from tests.browser.merchant_portal.conftest import NewTablet, make_portal_shop
from tests.browser.tablet import euro, squash
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_user
from tests.stripe_stub import StripeStub


def test_bank_transfer_recorded_by_the_admin_reaches_the_owners_page(
    new_tablet: NewTablet, session: Session
) -> None:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE68 5390 0754 7034", "GKCCBEBB")
    admin_email = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    shop = make_portal_shop(session, scheme, name="Bakkerij Test")
    communication = funding.structured_communication(shop.merchant_id)

    owner = new_tablet("en")
    owner.sign_in(shop.owner_email)
    owner.page.get_by_role("navigation", name="Main").get_by_role("link", name="Figures").click()
    owner.page.get_by_role("navigation", name="Figures").get_by_role(
        "link", name="Prepaid balance"
    ).click()
    expect(owner.page).to_have_url(re.compile(r"/portal/funding$"))
    expect(owner.page.locator("#prepaid-balance")).to_have_text(euro(0))
    # No Stripe keys on the live server: bank transfer is the only way.
    expect(owner.page.get_by_role("heading", name="Top up by bank transfer")).to_be_visible()
    expect(owner.page.get_by_role("button", name="Pay with Stripe")).to_have_count(0)
    expect(owner.page.locator("#communication")).to_have_text(communication)
    expect(owner.page.locator(".bank-details")).to_contain_text("BE68 5390 0754 7034")
    expect(owner.page.get_by_text("No prepayments yet.")).to_be_visible()
    owner.check("funding-empty")

    admin = new_tablet("en")
    admin.sign_in(admin_email)
    admin.goto("/dashboard/funding")
    admin.page.get_by_label("Structured communication").fill(communication)
    admin.page.get_by_label("Amount (€)").fill("75,00")
    admin.page.get_by_label("Bank reference of the transfer").fill("BNK-2026-0042")
    admin.submit(admin.page.get_by_role("button", name="Record the transfer"))
    expect(admin.page.get_by_role("status")).to_have_text(
        "The transfer is recorded: the shop's prepaid balance went up."
    )
    row = admin.page.locator("#transfers tbody tr")
    expect(row).to_have_count(1)
    assert squash(row.inner_text()).endswith(f"Bakkerij Test BNK-2026-0042 {squash(euro(7500))}")
    admin.check("dashboard-funding")

    owner.goto("/portal/funding")
    expect(owner.page.locator("#prepaid-balance")).to_have_text(euro(7500))
    history = owner.page.locator("#prepayments tbody tr")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("Bank transfer")
    expect(history).to_contain_text("BNK-2026-0042")
    owner.check("funding")

    # The same page in Dutch, the portal's first language.
    dutch = new_tablet("nl")
    dutch.sign_in(shop.owner_email)
    dutch.goto("/portal/funding")
    expect(dutch.page.get_by_role("heading", level=1)).to_have_text("Voorafbetaald saldo")
    expect(
        dutch.page.get_by_role("heading", name="Aanvullen met een overschrijving")
    ).to_be_visible()
    expect(dutch.page.locator("#prepaid-balance")).to_have_text(euro(7500, "nl"))
    expect(dutch.page.locator("#prepayments tbody tr")).to_contain_text("Overschrijving")
    dutch.check("funding")


def test_top_up_by_stripe_checkout_from_the_tablet(
    new_tablet: NewTablet, session: Session, stripe_live_server: tuple[LiveServer, StripeStub]
) -> None:
    """The whole round as the owner lives it: the form, Stripe's page (the local stand-in,
    which the portal's CSP must let the form's redirect reach), paying, the signed
    webhook, and back on the return page with the balance credited."""
    server, stub = stripe_live_server
    shop = make_portal_shop(session, name="Slagerij Stripe")
    owner = new_tablet("en", server=server)
    owner.sign_in(shop.owner_email)
    owner.goto("/portal/funding")
    expect(owner.page.get_by_role("heading", name="Top up by card or Bancontact")).to_be_visible()
    expect(owner.page.get_by_role("heading", name="Or top up by bank transfer")).to_be_visible()
    owner.check("funding-stripe")

    owner.page.get_by_label("Amount (€)").fill("40,00")
    owner.submit(owner.page.get_by_role("button", name="Pay with Stripe"))
    expect(owner.page).to_have_url(re.compile(re.escape(stub.url) + r"/c/pay/cs_test_\w+$"))
    expect(owner.page.locator("#amount")).to_have_text("40.00 EUR")
    (sent,) = [
        r for r in stub.received("POST", "/v1/checkout/sessions")
        # Other tests' checkouts (gift vouchers) share the stand-in: only this shop's.
        if r.params["metadata"].get("merchant_id") == str(shop.merchant_id)
    ]
    assert sent.params["payment_method_types"] == ["card", "bancontact"]

    owner.submit(owner.page.get_by_role("button", name="Pay"))
    expect(owner.page).to_have_url(re.compile(r"/portal/funding/paid\?session_id=cs_test_\w+$"))
    expect(owner.page.get_by_role("status")).to_have_text(
        f"{euro(4000)} is added to your prepaid balance."
    )
    owner.check("funding-paid")
    owner.goto("/portal/funding")
    expect(owner.page.locator("#prepaid-balance")).to_have_text(euro(4000))
    expect(owner.page.locator("#prepayments tbody tr")).to_contain_text("Card or Bancontact")


def test_cancelling_on_stripes_page_comes_back_without_charge(
    new_tablet: NewTablet, session: Session, stripe_live_server: tuple[LiveServer, StripeStub]
) -> None:
    server, _stub = stripe_live_server
    shop = make_portal_shop(session)
    owner = new_tablet("en", server=server)
    owner.sign_in(shop.owner_email)
    owner.goto("/portal/funding")
    owner.page.get_by_label("Amount (€)").fill("15")
    owner.submit(owner.page.get_by_role("button", name="Pay with Stripe"))
    owner.submit(owner.page.get_by_role("button", name="Cancel"))
    expect(owner.page).to_have_url(re.compile(r"/portal/funding/cancelled$"))
    expect(owner.page.get_by_role("heading", level=1)).to_have_text("Payment cancelled")
    expect(owner.page.get_by_text(f"Your prepaid balance: {euro(0)}")).to_be_visible()
    owner.check("funding-cancelled")
