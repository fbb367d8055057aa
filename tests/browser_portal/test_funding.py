"""The prepaid balance at tablet size: the admin records a shop's bank transfer,
the owner sees the instructions, the balance and its history (axe-core on both)."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty import funding
from loyalty.models import Role
from tests.browser_portal.conftest import NewTablet, make_portal_shop
from tests.browser_portal.tablet import euro, squash
from tests.factories import make_scheme, make_user


def test_bank_transfer_recorded_by_the_admin_reaches_the_owners_page(
    new_tablet: NewTablet, session: Session
) -> None:
    scheme = make_scheme(session)
    admin_email = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    shop = make_portal_shop(session, scheme, name="Bakkerij Test")
    communication = funding.structured_communication(shop.merchant_id)

    owner = new_tablet("en")
    owner.sign_in(shop.owner_email)
    owner.page.get_by_role("navigation", name="Main").get_by_role(
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
