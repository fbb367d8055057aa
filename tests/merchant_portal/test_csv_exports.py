"""Every CSV the system writes defuses text a spreadsheet would run as a formula.

The review: a shop named =HYPERLINK("http://evil") reached statements and report
exports as a live formula. Text cells get a ' before them (OWASP); figures,
also negative ones, stay figures.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import generate, release
from loyalty.infra.csv_cells import cell
from loyalty.models import Role, StaffUser
from loyalty.money.settlement import monthly
from tests.factories import bearer, make_merchant, make_scheme, make_user, staff_token
from tests.merchant_portal.helpers import new_client, sign_in_as
from tests.settlement_data import earn_and_redeem, make_shops

EVIL = '=HYPERLINK("http://evil")'
PERIOD = "2025-03"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (EVIL, "'" + EVIL),
        ("+32 3 123 45 67", "'+32 3 123 45 67"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Bakkerij = lekker", "Bakkerij = lekker"),
        ("-15.00", "-15.00"),
        ("-1500", "-1500"),
        (-1500, -1500),
        (-15.5, -15.5),
        (None, None),
        ("", ""),
    ],
)
def test_text_that_looks_like_a_formula_is_defused(value: object, written: object) -> None:
    assert cell(value) == written


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _assert_defused(text: str) -> None:
    """The evil name is there, defused; no other cell could start a formula."""
    cells = [value for row in _rows(text) for value in row]
    assert "'" + EVIL in cells, text
    for value in cells:
        assert cell(value) == value or value.startswith("'"), value


def test_statements_defuse_the_shop_name(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    issuer, taker = make_shops(session, scheme, 2)
    issuer.name = EVIL
    session.commit()
    earn_and_redeem(session, scheme, issuer, taker, 1500, datetime(2025, 3, 12, 10, tzinfo=UTC))
    monthly.settle(session, scheme, PERIOD, datetime(2026, 1, 1, tzinfo=UTC))
    session.commit()
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, issuer)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)

    shop = new_client(app)
    sign_in_as(shop, owner.email)
    town = new_client(app)
    sign_in_as(town, admin.email)
    api = app.test_client()
    token = staff_token(api, admin)
    for answer in (
        shop.get(f"/portal/statements/{PERIOD}.csv"),
        town.get(f"/dashboard/settlements/{PERIOD}/statements/{issuer.id}.csv"),
        api.get(f"/api/v1/settlements/{PERIOD}/statements/{issuer.id}.csv",
                headers=bearer(token)),
    ):
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        text = answer.get_data(as_text=True)
        _assert_defused(text)
        # The amounts stay figures, also the negative ones: the issuer owes what
        # its points were worth.
        assert ["net", "-75.00"] in _rows(text)
        assert ["earn", "1500", "-75.00"] in [row[1:2] + row[3:] for row in _rows(text)]


@pytest.fixture
def analyst(session: Session) -> StaffUser:
    """The analyst of a town with a shop named like a formula, and sales in it."""
    scheme = make_scheme(session, villages=["Sint-Gillis-Waas", "De Klinge"])
    scheme.k_anonymity = 5
    make_merchant(session, scheme, name=EVIL, sector="47.24")
    make_merchant(session, scheme, name="Bakkerij De Smet", sector="47.24")
    generate.generate_events(session, scheme, 600, end=date(2026, 10, 31), days=60, seed=7,
                             shoppers=80)
    # The per-shop report reads the released days (a hidden row keeps its shop's name).
    release.release(session, scheme, datetime(2026, 11, 2, tzinfo=UTC))
    session.commit()
    return make_user(session, scheme, Role.MUNICIPALITY_ANALYST)


def test_report_exports_defuse_shop_names(app: Flask, analyst: StaffUser) -> None:
    period = {"from": "2026-10-01", "to": "2026-10-31"}
    page = new_client(app)
    sign_in_as(page, analyst.email)
    api = app.test_client()
    token = staff_token(api, analyst)
    for answer in (
        page.get("/dashboard/reports/shops.csv", query_string=period),
        api.get("/api/v1/reports/shops.csv", query_string=period, headers=bearer(token)),
    ):
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        _assert_defused(answer.get_data(as_text=True))
