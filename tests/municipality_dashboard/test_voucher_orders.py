"""A company's order of gift vouchers: the public order form, the invoice with its
structured communication, the admin recording the transfer (asked first, issued once),
the e-mailed link to the CSV of the codes."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import GiftVoucherOrder
from loyalty.money import funding, vouchers
from tests.forms import csrf
from tests.municipality_dashboard.conftest import Municipality, html, post


def _order(app: Flask, scheme_id: int, quantity: int = 3) -> tuple[Any, str]:
    company = app.test_client()
    company.set_cookie("lang", "nl")
    form = company.get(f"/vouchers/company?town={scheme_id}")
    assert form.status_code == 200
    sent = company.post(f"/vouchers/company?town={scheme_id}", data={
        "csrf_token": csrf(html(form)), "company_name": "Bouwbedrijf Verstraete",
        "vat_number": "BE 0123.456.789", "email": "hr@verstraete.example",
        "quantity": str(quantity), "amount": "2500",
    })
    assert sent.status_code == 303, html(sent)
    return company, sent.headers["Location"]


def test_an_order_is_invoiced_paid_once_and_its_codes_downloaded(
    app: Flask, session: Session, town: Municipality, mailbox: Any, verify_ledger: Any,
) -> None:
    company, invoice_url = _order(app, town.scheme.id)
    invoice = html(company.get(invoice_url)).replace("\xa0", " ").replace("\u202f", " ")
    communication = re.search(r"\+\+\+\d{3}/\d{4}/\d{5}\+\+\+", invoice)
    assert communication, invoice
    assert funding.merchant_of_communication(communication[0]) is not None  # mod-97 digits
    assert "€ 75,00" in invoice and "BE0123456789" in invoice
    assert company.get(invoice_url + "/codes.csv").status_code == 404  # not paid yet
    pdf = company.get(invoice_url + "/invoice.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")

    order = session.query(GiftVoucherOrder).filter_by(scheme_id=town.scheme.id).one()
    session.rollback()
    listing = html(town.admin_client.get("/dashboard/vouchers"))
    assert "Bouwbedrijf Verstraete" in listing and communication[0] in listing
    url = f"/dashboard/vouchers/orders/{order.id}/paid"
    field = f"o{order.id}-reference"
    asked = post(town.admin_client, url, **{field: "BNK-2026-118"})
    assert asked.status_code == 200 and "Yes, issue the codes" in html(asked)
    assert not vouchers.order_vouchers(session, order)  # nothing issued by asking
    done = post(town.admin_client, url, **{field: "BNK-2026-118", "confirmed": "1"})
    assert done.status_code == 303 and "done=issued" in done.headers["Location"]
    again = post(town.admin_client, url, **{field: "BNK-2026-118", "confirmed": "1"})
    assert "done=again" in again.headers["Location"]

    mail = mailbox.wait_for("hr@verstraete.example").get_content()
    link = re.search(r"https?://\S+/codes\.csv", mail)
    assert link, mail
    path = link[0].split("://", 1)[1].split("/", 1)[1]
    download = app.test_client().get("/" + path)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True)), delimiter=";"))
    assert rows[0] == ["code", "amount_eur", "valid_until", "redeem_url"]
    assert len(rows) == 4 and len({r[0] for r in rows[1:]}) == 3
    assert all(r[1] == "25.00" and "/vouchers/redeem?code=" in r[3] for r in rows[1:])
    assert town.analyst_client.get(f"/dashboard/vouchers/orders/{order.id}/codes.csv") \
        .status_code == 403
    session.rollback()
    assert vouchers.outstanding_cents(session, town.scheme.id) == 75_00
    verify_ledger()


# The settings form's other fields, valid as they are.
SETTINGS = {
    "point_value_cents": "5", "earn_rate": "1", "earn_rate_max": "10", "validity_months": "24",
    "k_anonymity": "10", "claim_ttl_minutes": "10", "hold_ttl_minutes": "5",
    "correction_days": "14", "confirm_above_euros": "500", "villages": "Meerdonk",
    "inhabitants": "", "release_epsilon_per_day": "1.0", "release_max_purchases": "3",
    "release_max_euros": "100",
}


def test_the_voucher_amounts_on_sale_are_a_setting(
    app: Flask, session: Session, town: Municipality
) -> None:
    page = html(town.admin_client.get("/dashboard/settings"))
    assert 'value="10, 25, 50"' in page
    fields = dict(SETTINGS)
    wrong = post(town.admin_client, "/dashboard/settings", **{**fields, "voucher_amounts": "7.5"})
    assert wrong.status_code == 422
    assert "From 1 to 6 different amounts" in html(wrong)
    assert post(town.admin_client, "/dashboard/settings",
                **{**fields, "voucher_amounts": "3"}).status_code == 422  # below 5 euros
    saved = post(town.admin_client, "/dashboard/settings",
                 **{**fields, "voucher_amounts": "20, 15"})
    assert saved.status_code == 303, html(saved)
    session.expire_all()
    assert vouchers.allowed_amounts(session.get_one(type(town.scheme), town.scheme.id)) == \
        [1500, 2000]
    session.rollback()
    shop_page = html(app.test_client().get(f"/vouchers/company?town={town.scheme.id}"))
    assert 'value="1500"' in shop_page and 'value="2500"' not in shop_page
