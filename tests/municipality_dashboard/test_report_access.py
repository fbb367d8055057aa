"""Reports through the API and the dashboard pages: who may read them, what the
exports contain (never a pseudonym or an event-level row), bad periods."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.analytics import catalog, cells, generate, period_release, release
from loyalty.analytics.periods import Period
from loyalty.models import PurchaseEvent, ReleasedCell, Role, Scheme
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import (
    bearer,
    make_merchant,
    make_scheme,
    make_shop,
    make_user,
    staff_token,
)
from tests.forms import signed_in

PERIOD = {"from": "2026-09-01", "to": "2026-09-30"}
RELEASED_AT = datetime(2026, 11, 1, 3, tzinfo=UTC)
# Columns of the events that must never reach an export, by name.
PERSONAL = ("shopper_key", "home_postcode", "home_village", "wallet_id", "merchant_id")


@pytest.fixture
def scheme(session: Session) -> Scheme:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    scheme.k_anonymity = 5
    # The least noise a municipality may choose (the settings page's bounds): about
    # 20 sales a day would otherwise be mostly noise, and these tests look at the
    # plumbing (what pages, API and files show), not at the privacy level.
    scheme.release_epsilon_per_day = 4.0
    scheme.release_max_purchases = 1
    scheme.release_max_cents = 5_000
    scheme.release_epsilon_per_period = 4.0
    for sector in SECTORS:
        make_merchant(session, scheme, sector=sector)
    generate.generate_events(session, scheme, 2500, end=date(2026, 10, 31), days=120, seed=7,
                             shoppers=150)
    # The nightly release, up to 31 October (the last day with sales).
    release.release(session, scheme, RELEASED_AT)
    period_release.release_periods(session, scheme, RELEASED_AT)
    session.commit()
    return scheme


def _pseudonyms(session: Session, scheme: Scheme) -> set[str]:
    return set(session.scalars(
        sa.select(PurchaseEvent.shopper_key).where(PurchaseEvent.scheme_id == scheme.id)))


def _assert_no_personal_data(
    text: str, pseudonyms: set[str], events: int, row_marker: str = "\n"
) -> None:
    for name in PERSONAL:
        assert name not in text
    for key in pseudonyms:
        assert key not in text
    # Aggregates, not events: far fewer rows than there are sales.
    assert text.count(row_marker) < events / 5


def test_an_analyst_reads_every_report_through_the_api(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    token = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    pseudonyms = _pseudonyms(session, scheme)
    for name in catalog.CATALOG:
        answer = client.get(f"/api/v1/reports/{name}", query_string=PERIOD, headers=token)
        assert answer.status_code == 200, (name, answer.json)
        body: dict[str, Any] = answer.json  # type: ignore[assignment]
        assert body["k"] == 5 and body["definition"] and body["from"] == "2026-09-01"
        for row in body["rows"]:
            assert {"key", "suppressed"} <= set(row)
            if row["suppressed"]:
                assert row.get("amount_cents") is None and row.get("shoppers") is None
        _assert_no_personal_data(answer.get_data(as_text=True), pseudonyms, 2500)

        exported = client.get(f"/api/v1/reports/{name}.csv", query_string=PERIOD, headers=token)
        assert exported.status_code == 200 and exported.mimetype == "text/csv"
        text = exported.get_data(as_text=True)
        _assert_no_personal_data(text, pseudonyms, 2500)
        header = next(csv.reader(io.StringIO(text)))
        assert "key" in header and "suppressed" in header


def test_the_spending_report_shows_the_visible_figures_in_csv_and_json_alike(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    token = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ADMIN)))
    body = client.get("/api/v1/reports/sectors", query_string=PERIOD, headers=token).json
    text = client.get("/api/v1/reports/sectors.csv", query_string=PERIOD,
                      headers=token).get_data(as_text=True)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(text))}
    assert body["rows"], "the generated data has sales in September"
    assert any(not r["suppressed"] for r in body["rows"])
    for row in body["rows"]:
        line = rows[row["key"]]
        assert line["amount_cents"] == ("" if row["amount_cents"] is None
                                        else str(row["amount_cents"]))
    assert rows["total"]["amount_cents"] == str(body["total"]["amount_cents"])


def test_merchants_and_shoppers_may_not_read_reports(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    shop = make_shop(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant)
    for headers in (shop.headers, bearer(staff_token(client, owner))):
        answer = client.get("/api/v1/reports/sectors", query_string=PERIOD, headers=headers)
        assert answer.status_code == 403
        assert answer.json["error"]["code"] == "wrong_role"
    signed_in(client, owner.email)
    assert client.get("/dashboard/reports").status_code == 403
    assert client.get("/dashboard/reports/sectors").status_code == 403
    assert client.get("/dashboard/reports/sectors.csv").status_code == 403


def test_a_municipality_sees_only_its_own_scheme(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    other = make_scheme(session)
    elsewhere = make_merchant(session, other, name="Bakkerij Elders")
    del elsewhere
    analyst = make_user(session, other, Role.MUNICIPALITY_ANALYST)
    token = bearer(staff_token(client, analyst))
    body = client.get("/api/v1/reports/shops", query_string=PERIOD, headers=token).json
    assert body["rows"] == [] and body["total"] is None
    ours = {m for m in session.scalars(sa.select(PurchaseEvent.merchant_id).where(
        PurchaseEvent.scheme_id == scheme.id).distinct())}
    assert ours  # this scheme has sales, which the other municipality does not see
    signed_in(client, analyst.email)
    page = client.get("/dashboard/reports/shops", query_string=PERIOD)
    assert page.status_code == 200
    assert "Winkel" not in page.get_data(as_text=True)  # none of this scheme's shops


def test_unknown_reports_and_bad_periods(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    token = bearer(staff_token(client, analyst))
    assert client.get("/api/v1/reports/nope", headers=token).status_code == 404
    backwards = client.get("/api/v1/reports/sectors", headers=token,
                           query_string={"from": "2026-09-30", "to": "2026-09-01"})
    assert backwards.status_code == 422 and backwards.json["error"]["code"] == "invalid_period"
    assert client.get("/api/v1/reports/sectors", headers=token,
                      query_string={"from": "yesterday"}).status_code == 422
    signed_in(client, analyst.email)
    assert client.get("/dashboard/reports/nope").status_code == 404
    page = client.get("/dashboard/reports/sectors",
                      query_string={"from": "2026-09-30", "to": "2026-09-01"})
    assert page.status_code == 400
    assert "The start date is after the end date." in page.get_data(as_text=True)
    assert client.get("/dashboard/reports/sectors",
                      query_string={"from": "30/09/2026"}).status_code == 400
    # A report on figures no released table holds answers for whole closed calendar
    # periods only: not for 3 to 30 September, nor for this month (to date).
    this_month = date.today().replace(day=1).isoformat()
    for period in ({"from": "2026-09-03", "to": "2026-09-30"}, {"from": this_month}):
        answer = client.get("/api/v1/reports/frequency", headers=token, query_string=period)
        assert answer.status_code == 422 and answer.json["error"]["code"] == "period_not_aligned"
    page = client.get("/dashboard/reports/frequency",
                      query_string={"from": "2026-09-03", "to": "2026-09-30"})
    assert page.status_code == 400
    assert "only for a whole calendar month, quarter or year" in page.get_data(as_text=True)
    assert client.get("/dashboard/reports/frequency.csv",
                      query_string={"from": "2026-09-03", "to": "2026-09-30"}).status_code == 400
    # The per-shop report is released: any dates, on the page, in its files and the API.
    for path in ("/dashboard/reports/shops", "/dashboard/reports/shops.csv"):
        assert client.get(path, query_string={"from": "2026-09-03",
                                              "to": "2026-09-30"}).status_code == 200, path
    for period in ({"from": "2026-09-03", "to": "2026-09-30"}, {"from": this_month}):
        assert client.get("/api/v1/reports/shops", headers=token,
                          query_string=period).status_code == 200, period
        by_shop = client.get("/api/v1/reports/spending", headers=token,
                             query_string={"by": "merchant", **period})
        assert by_shop.status_code == 200, by_shop.json


def test_an_analyst_reads_every_report_page_with_its_rules_and_exports(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    signed_in(client, analyst.email)
    index = client.get("/dashboard/reports")
    assert index.status_code == 200
    text = index.get_data(as_text=True)
    assert "k = 5" in text
    pseudonyms = _pseudonyms(session, scheme)
    for name, entry in catalog.CATALOG.items():
        assert f"/dashboard/reports/{name}" in text
        page = client.get(f"/dashboard/reports/{name}", query_string=PERIOD)
        assert page.status_code == 200, name
        html = page.get_data(as_text=True)
        assert entry.definition in html  # English texts: the definition beside the report
        assert "k = 5" in html and "<table" in html
        if "No sales in this period." not in html:  # the points flow: no ledger here
            assert 'role="img"' in html and "<svg" in html and "<title" in html
        else:
            assert name == "points-flow"
        _assert_no_personal_data(html, pseudonyms, 2500, "<tr")
        exported = client.get(f"/dashboard/reports/{name}.json", query_string=PERIOD)
        assert exported.status_code == 200
        body = json.loads(exported.get_data(as_text=True))
        assert body["k"] == 5 and body["name"] == name
        _assert_no_personal_data(exported.get_data(as_text=True), pseudonyms, 2500, '"key"')
        exported = client.get(f"/dashboard/reports/{name}.csv", query_string=PERIOD)
        assert exported.status_code == 200 and exported.mimetype == "text/csv"
        assert "attachment" in exported.headers["Content-Disposition"]


def test_a_report_downloads_for_belgian_excel(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    """Semicolons, a decimal comma, euros not cents, Dutch headings and a byte-order mark:
    Excel in Flanders opens it as a table of numbers."""
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    signed_in(client, analyst.email)
    client.set_cookie("lang", "nl")
    answer = client.get("/dashboard/reports/sectors.csv", query_string=PERIOD)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Sectorgroep", "Aankopen", "Bedrag (€)"]
    assert rows[0][-3:] == ["Foutmarge aankopen (±)", "Foutmarge bedrag (±) (€)", "Verborgen"]
    total = rows[-1]
    assert total[0] == "Totaal"
    api = client.get("/api/v1/reports/sectors", query_string=PERIOD,
                     headers=bearer(staff_token(client, analyst))).json
    cents = api["total"]["amount_cents"]
    assert total[2] == f"{cents // 100},{cents % 100:02d}"  # euros, decimal comma, no grouping
    for row in rows[1:]:
        assert len(row) == len(rows[0])
        if row[-1]:  # a hidden row says why and shows no figures, nor margins
            assert row[1:3] == ["", ""] and row[-3:-1] == ["", ""]
            assert row[-1].startswith("verborgen")


def test_a_report_for_any_range_is_the_sum_of_its_released_cells(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    """Page, spreadsheet and JSON of an arbitrary range (not a calendar period) show
    the sums of the released cells of its days, with their margins; days after the
    last released one are not in it, and the page says so."""
    first, last = date(2026, 9, 7), date(2026, 11, 12)  # released up to 31 October
    cells = session.execute(
        sa.select(ReleasedCell.day, ReleasedCell.purchases, ReleasedCell.amount_cents)
        .where(ReleasedCell.scheme_id == scheme.id, ReleasedCell.table == "all",
               ReleasedCell.day.between(first, last))).all()
    weekdays: dict[str, list[int]] = {}
    for day, purchases, amount in cells:
        sums = weekdays.setdefault(str(day.weekday()), [0, 0])
        sums[0] += purchases
        sums[1] += amount
    assert len(cells) == 55  # 7 September to 31 October

    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    signed_in(client, analyst.email)
    period = {"from": first.isoformat(), "to": last.isoformat()}
    body = json.loads(client.get("/dashboard/reports/weekdays.json",
                                 query_string=period).get_data(as_text=True))
    assert body["released"] and body["released_until"] == "2026-10-31"
    assert body["total"]["purchases"] == sum(p for _d, p, _a in cells)
    assert body["total"]["amount_cents"] == sum(a for _d, _p, a in cells)
    shown = [row for row in body["rows"] if not row["suppressed"]]
    assert shown
    for row in body["rows"]:
        if row["suppressed"]:  # the k rule on the noisy count, or its secondary
            assert row["purchases"] is None and row["purchases_margin"] is None
            continue
        assert [row["purchases"], row["amount_cents"]] == weekdays[row["key"]]
        assert row["purchases"] >= 5
        # 7 or 8 days of one cell each: the 95% margin of that many noises.
        days = sum(1 for day, _p, _a in cells if str(day.weekday()) == row["key"])
        scale = release.parameters(scheme).purchases_scale
        assert row["purchases_margin"] == math.ceil(1.96 * math.sqrt(days * 2 * scale**2))

    client.set_cookie("lang", "nl")
    text = client.get("/dashboard/reports/weekdays.csv",
                      query_string=period).get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    total = sum(a for _d, _p, a in cells)
    assert lines[-1][0] == "Totaal"
    assert lines[-1][2] == f"{'-' if total < 0 else ''}{abs(total) // 100},{abs(total) % 100:02d}"
    page = client.get("/dashboard/reports/weekdays", query_string=period)
    html = page.get_data(as_text=True)
    assert "Tot en met 31 oktober 2026: latere dagen" in html
    assert "foutmarge" in html and "± " in html


def test_a_shopper_report_shows_released_counts_with_their_margins(
    client: FlaskClient, session: Session, scheme: Scheme
) -> None:
    """The frequency page of September shows the released counts of shoppers with
    "± N shoppers" beside them; a closed month that was never released says so; the
    spreadsheet has the margins as columns."""
    released = period_release.released(session, scheme.id, Period(date(2026, 9, 1),
                                                                 date(2026, 9, 30)))
    assert released is not None
    margin = released["frequency"]["1"].margin
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    signed_in(client, analyst.email)
    page = client.get("/dashboard/reports/frequency", query_string=PERIOD)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"± {margin} shoppers" in html
    assert "released once for this whole period" in html
    report = catalog.build(session, scheme, "frequency",
                           Period(date(2026, 9, 1), date(2026, 9, 30)), "en")
    visible = [row.shoppers for row in report.rows if not row.suppressed]
    assert visible and all(f"<td class=\"num\">{n:,}" in html for n in visible)
    assert set(visible) <= {f.shoppers for f in released["frequency"].values()}
    # The active shops per month show the month's released distinct shoppers.
    active = catalog.build(session, scheme, "active-shops",
                           Period(date(2026, 9, 1), date(2026, 9, 30)), "en")
    [month] = active.rows
    assert not month.suppressed  # some 150 shoppers in September, far above k = 5
    assert (month.shoppers, month.shoppers_margin) == (
        released["shoppers"]["all"].shoppers, released["shoppers"]["all"].margin)
    # Its purchases and amount are the month's released sums, not the exact rollups.
    sums = release.released_by(session, scheme.id, "month",
                               Period(date(2026, 9, 1), date(2026, 9, 30)))["2026-09"]
    assert (month.purchases, month.amount_cents, month.purchases_margin,
            month.amount_margin_cents) == (sums.purchases, sums.amount_cents,
                                           sums.purchases_margin, sums.amount_margin_cents)
    exact = cells.sums(session, scheme.id, "month", Period(date(2026, 9, 1),
                                                           date(2026, 9, 30)))["2026-09"]
    assert (month.purchases, month.amount_cents) != exact[:2]

    # June closed, before the first sale: no period of it was released.
    june = client.get("/dashboard/reports/frequency",
                      query_string={"from": "2026-06-01", "to": "2026-06-30"})
    assert june.status_code == 200
    assert "This period is not released for statistics yet" in june.get_data(as_text=True)
    dutch = client.get("/dashboard/reports/frequency", query_string={**PERIOD, "lang": "nl"})
    assert f"± {margin} klanten" in dutch.get_data(as_text=True)

    client.set_cookie("lang", "nl")
    sheet = client.get("/dashboard/reports/frequency.csv", query_string=PERIOD)
    rows = list(csv.reader(io.StringIO(sheet.get_data(as_text=True).removeprefix("\ufeff")),
                           delimiter=";"))
    assert "Foutmarge klanten (±)" in rows[0] and "Foutmarge terugkerende klanten (±)" in rows[0]
