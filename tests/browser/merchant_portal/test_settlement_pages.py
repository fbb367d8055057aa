"""The settlement pages in the browser: the admin settles a month, the shop reads its
statement, a wrong IBAN is refused next to its field; axe-core on every page."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.models import Role
from loyalty.money.settlement import bank_accounts
from tests.browser.merchant_portal.conftest import NewTablet
from tests.conftest import LiveServer
from tests.factories import PASSWORD, make_scheme, make_user
from tests.settlement_data import earn_and_redeem, iban_for, make_shops


def test_settle_a_month_and_read_the_statement(
    new_tablet: NewTablet, session: Session, live_server: LiveServer
) -> None:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, taker = make_shops(session, scheme, 2)
    bank_accounts.set_merchant_bank_account(session, taker, iban_for(11), "GEBABEBB", "Taker bv")
    session.commit()
    earn_and_redeem(session, scheme, issuer, taker, 100, datetime(2025, 3, 12, tzinfo=UTC))
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, taker).email
    taker_name = taker.name
    session.rollback()

    office = new_tablet("en")
    office.sign_in(admin)
    office.goto("/dashboard/settlements")
    office.check("dashboard-settlements-empty")
    office.page.get_by_label("Month to settle").fill("2025-3")
    office.submit(office.page.get_by_role("button", name="Settle this month"), 422)
    expect(office.page.locator("#period-error")).to_contain_text("such as 2026-11")
    office.check("dashboard-settlements-error")
    office.page.get_by_label("Month to settle").fill("2025-03")
    office.submit(office.page.get_by_role("button", name="Settle this month"))
    expect(office.page.get_by_role("status")).to_have_text("The month is settled and locked.")
    expect(office.page.get_by_role("row", name=taker_name)).to_contain_text("€5.00")
    office.check("dashboard-settlement")
    office.goto("/dashboard/settlements")
    office.check("dashboard-settlements")

    shop = new_tablet("en")
    shop.sign_in(owner)
    shop.goto("/portal/statements")
    expect(shop.page.get_by_role("row", name="March 2025")).to_contain_text("€5.00")
    shop.check("statements")
    shop.goto("/portal/profile")
    shop.page.get_by_label("IBAN").fill("BE71 0961 2345 6768")
    shop.submit(shop.page.get_by_role("button", name="Save"), 422)
    expect(shop.page.locator("#iban-error")).to_contain_text("This is not a valid IBAN.")
    shop.check("profile-bank-error")
    # A valid new account takes the password again (a stolen session cannot move the payouts).
    shop.page.get_by_label("IBAN").fill(iban_for(12))
    shop.submit(shop.page.get_by_role("button", name="Save"), 422)
    expect(shop.page.locator("#password-error")).to_contain_text(
        "Type your password correctly to change the bank account."
    )
    shop.check("profile-bank-password")
    shop.page.get_by_label("IBAN").fill(iban_for(12))
    shop.page.get_by_label("Your password").fill(PASSWORD)
    shop.submit(shop.page.get_by_role("button", name="Save"))
    expect(shop.page.get_by_role("status")).to_have_text("The profile is saved.")


def test_the_settlement_table_fits_a_desktop_in_every_language(
    new_tablet: NewTablet, session: Session, live_server: LiveServer
) -> None:
    """At 1280 px every column, the reference and the statement links included, is
    on screen without scrolling sideways (it was 1,432 px wide)."""
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, taker = make_shops(session, scheme, 2)
    bank_accounts.set_merchant_bank_account(session, taker, iban_for(13), "GEBABEBB", "Taker bv")
    session.commit()
    earn_and_redeem(session, scheme, issuer, taker, 12345, datetime(2025, 3, 12, tzinfo=UTC))
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    session.rollback()
    for lang in ("nl", "fr", "en"):
        office = new_tablet(lang)
        office.page.set_viewport_size({"width": 1280, "height": 800})
        office.sign_in(admin)
        if lang == "nl":
            office.goto("/dashboard/settlements")
            office.page.locator("#period").fill("2025-03")
            office.submit(office.page.locator("main form button[type=submit]"))
        office.goto("/dashboard/settlements/2025-03")
        widths = office.page.evaluate(
            "() => { const s = document.querySelector('.table-scroll');"
            " return [document.documentElement.scrollWidth, s.scrollWidth, s.clientWidth]; }"
        )
        office.screenshot(f"dashboard-settlement-1280-{lang}")
        assert widths[0] <= 1280 and widths[1] <= widths[2], (lang, widths)
        office.check(f"dashboard-settlement-1280-{lang}")
