"""Settlement pages: the dashboard's settle button and downloads, the shop's statements,
and the bank account in the shop profile."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import Merchant, Role, Settlement
from loyalty.money import funding
from loyalty.money.settlement import bank_accounts, monthly, sepa
from tests.conftest import Mailbox
from tests.factories import PASSWORD, make_scheme, make_user
from tests.merchant_portal.helpers import (
    form_error,
    fresh,
    html_of,
    new_client,
    post_form,
    sign_in_as,
)
from tests.settlement_data import earn_and_redeem, iban_for, make_shops

PERIOD = "2025-03"
AT = datetime(2025, 3, 12, 10, tzinfo=UTC)


def test_admin_settles_a_month_from_the_dashboard(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, taker = make_shops(session, scheme, 2)
    bank_accounts.set_merchant_bank_account(session, taker, iban_for(5), "GEBABEBB", "Taker bv")
    session.commit()
    earn_and_redeem(session, scheme, issuer, taker, 100, AT)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)

    client = new_client(app)
    sign_in_as(client, admin.email)
    page = client.get("/dashboard/settlements")
    assert page.status_code == 200
    assert "No month has been settled yet." in html_of(page)
    # The month due is the scheme's first month of activity, offered in the form.
    assert "Next month to settle: March 2025." in html_of(page)
    assert 'value="2025-03"' in html_of(page)
    # Without the CSRF token nothing happens.
    assert client.post("/dashboard/settlements", data={"period": PERIOD}).status_code == 400
    wrong = post_form(client, "/dashboard/settlements", "/dashboard/settlements", period="2025-3")
    assert wrong.status_code == 422
    assert "such as 2026-11" in form_error(html_of(wrong), "period")
    future = post_form(client, "/dashboard/settlements", "/dashboard/settlements", period="2999-01")
    assert future.status_code == 422
    assert "not over yet" in form_error(html_of(future), "period")
    skipping = post_form(client, "/dashboard/settlements", "/dashboard/settlements",
                         period="2025-04")
    assert skipping.status_code == 422
    assert "settle March 2025 first" in form_error(html_of(skipping), "period")
    assert session.query(Settlement).filter_by(scheme_id=scheme.id).count() == 0
    session.commit()

    done = post_form(client, "/dashboard/settlements", "/dashboard/settlements", period=PERIOD)
    assert done.status_code == 303
    detail = html_of(client.get(done.headers["Location"]))
    assert "The month is settled and locked." in detail
    assert taker.name in detail and issuer.name in detail
    again = post_form(client, "/dashboard/settlements", "/dashboard/settlements", period=PERIOD)
    assert "already settled" in html_of(client.get(again.headers["Location"]))
    listing = html_of(client.get("/dashboard/settlements"))
    assert f"/dashboard/settlements/{PERIOD}/sepa.xml" in listing
    assert ">March 2025</a>" in listing and "Next month to settle: April 2025." in listing

    sepa_file = client.get(f"/dashboard/settlements/{PERIOD}/sepa.xml")
    assert sepa_file.status_code == 200
    sepa.validate_sepa(sepa_file.data)
    assert b"<CtrlSum>5.00</CtrlSum>" in sepa_file.data
    pdf = client.get(f"/dashboard/settlements/{PERIOD}/statements/{taker.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    csv_text = client.get(
        f"/dashboard/settlements/{PERIOD}/statements/{issuer.id}.csv"
    ).get_data(as_text=True)
    assert "net,-5.00" in csv_text and "to_collect,5.00" in csv_text

    other = new_client(app)
    sign_in_as(other, analyst.email)
    assert other.get("/dashboard/settlements").status_code == 403
    assert other.get(f"/dashboard/settlements/{PERIOD}/sepa.xml").status_code == 403


def test_a_shop_sees_only_its_own_statements(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    issuer, taker = make_shops(session, scheme, 2)
    earn_and_redeem(session, scheme, issuer, taker, 100, AT)
    monthly.settle(session, scheme, PERIOD, datetime(2026, 1, 1, tzinfo=UTC))
    session.commit()
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, issuer)
    client = new_client(app)
    sign_in_as(client, owner.email)
    page = html_of(client.get("/portal/statements"))
    assert PERIOD in page and "/portal/statements/2025-03.pdf" in page
    assert taker.name not in page
    own = client.get(f"/portal/statements/{PERIOD}.csv").get_data(as_text=True)
    assert issuer.name in own and taker.name not in own
    assert "net,-5.00" in own
    assert client.get(f"/portal/statements/{PERIOD}.pdf").data.startswith(b"%PDF-")
    assert client.get("/portal/statements/2025-04.csv").status_code == 404
    # The dashboard's downloads are not for shops.
    assert client.get(
        f"/dashboard/settlements/{PERIOD}/statements/{taker.id}.csv"
    ).status_code == 403


def test_the_payout_account_is_checked_in_the_profile(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    (shop,) = make_shops(session, scheme, 1)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    client = new_client(app)
    sign_in_as(client, owner.email)
    base = {"postcode": "9170", "sector": "47.24", "email": shop.email, "address": "Markt 1"}
    for field, data, message in [
        ("iban", {"iban": "BE71 0961 2345 6768"}, "This is not a valid IBAN."),
        ("iban", {"iban": "hello"}, "This is not a valid IBAN."),
        ("bic", {"iban": "BE71096123456769", "bic": "XX"}, "This is not a valid BIC"),
        ("bic", {"iban": "BE68539007547034"}, "Type the BIC of your bank"),
    ]:
        answer = post_form(client, "/portal/profile", "/portal/profile", **base, **data)
        assert answer.status_code == 422, data
        assert message in form_error(html_of(answer), field)
    unchanged = fresh(session, Merchant, shop.id)
    assert (unchanged.iban, unchanged.address) == (None, None)

    saved = post_form(client, "/portal/profile", "/portal/profile", **base, password=PASSWORD,
                  iban="be71 0961 2345 6769", bic="", account_holder="De Smet bv")
    assert saved.status_code == 303
    merchant = fresh(session, Merchant, shop.id)
    assert (merchant.iban, merchant.bic, merchant.account_holder) == (
        "BE71096123456769", "GKCCBEBB", "De Smet bv"
    )
    assert 'value="BE71096123456769"' in html_of(client.get("/portal/profile"))
    cleared = post_form(client, "/portal/profile", "/portal/profile", **base, password=PASSWORD,
                    iban="", bic="", account_holder="")
    assert cleared.status_code == 303
    assert fresh(session, Merchant, shop.id).iban is None


REFERENCE = re.compile(r"\+\+\+\d{3}/\d{4}/\d{5}\+\+\+")


def test_one_reference_per_debt_everywhere(
    app: Flask, session: Session, mailbox: Mailbox
) -> None:
    """The payment request, the settlement table and the shop's statement name the
    debt with one structured communication, and a transfer with it pays that debt."""
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    debtor, taker = make_shops(session, scheme, 2)
    session.commit()
    earn_and_redeem(session, scheme, debtor, taker, 100, AT)  # debtor owes 5.00
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    client = new_client(app)
    sign_in_as(client, admin.email)
    done = post_form(client, "/dashboard/settlements", "/dashboard/settlements", period=PERIOD)
    assert done.status_code == 303

    mailed = REFERENCE.findall(mailbox.wait_for(debtor.email).get_content())
    assert len(set(mailed)) == 1
    reference = mailed[0]
    # The debt's own reference, not the shop's standing top-up communication.
    assert reference != funding.structured_communication(debtor.id)
    detail = html_of(client.get(f"/dashboard/settlements/{PERIOD}"))
    row = next(r for r in detail.split("<tr") if debtor.name in r)
    assert REFERENCE.findall(row) == [reference]
    statement = client.get(
        f"/dashboard/settlements/{PERIOD}/statements/{debtor.id}.csv"
    ).get_data(as_text=True)
    rows = {row[0]: row[1] for row in csv.reader(io.StringIO(statement)) if len(row) == 2}
    # The CSV defuses a cell that starts with "+" (a spreadsheet formula) with a quote.
    assert rows["reference"] == "'" + reference
    assert reference not in html_of(client.get(f"/dashboard/settlements/{PERIOD}")).replace(
        row, ""
    )

    # The municipality records the shop's transfer with that communication: it
    # becomes the debtor's prepaid money, which the next settlement applies.
    paid = post_form(client, "/dashboard/funding", "/dashboard/funding",
                     communication=reference, amount="5,00", reference="BANK-2025-04-02")
    assert paid.status_code == 303
    assert funding.prepaid_balance(session, fresh(session, Merchant, debtor.id)) == 500
    assert funding.prepaid_balance(session, fresh(session, Merchant, taker.id)) == 0
