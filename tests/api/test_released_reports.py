"""The contract's spending report is arithmetic on released cells: the outside
review's differencing attack, through the API, now yields a released (noisy) cell."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.analytics import generate, release
from loyalty.analytics.periods import Period
from loyalty.models import PurchaseEvent, ReleasedCell, Role, Scheme
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import bearer, make_merchant, make_scheme, make_user, staff_token

BEVEREN = "nis:46030"  # home postcode 9120
ATTACKED = date(2026, 12, 2)
FIRST = date(2026, 10, 3)
# 2 December closed, and its half hour of grace passed (town time is UTC+1).
AFTER = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def _town(session: Session) -> Scheme:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    for sector in SECTORS:
        make_merchant(session, scheme, sector=sector)
    generate.generate_events(session, scheme, 3_000, end=ATTACKED, days=61, seed=9,
                             shoppers=300)
    # Shoppers from 9120 every day at three bakeries, so that the area's sums pass
    # the k and three-shop rules and the two answers can be subtracted at all; on
    # the attacked day only 4 of them (fewer than k).
    bakeries = [make_merchant(session, scheme, sector="47.24") for _ in range(3)]
    rows = []
    for n in range(61):
        day = FIRST + timedelta(days=n)
        for i in range(4 if day == ATTACKED else 30):
            rows.append({
                "scheme_id": scheme.id, "merchant_id": bakeries[i % 3].id, "sector": "47.24",
                "amount_cents": 1_850, "points": 18, "local_date": day, "local_hour": 11,
                "weekday": day.weekday(), "shopper_key": f"beveren-{n}-{i}",
                "home_postcode": "9120", "home_village": None, "age_band": "45-54",
            })
    session.execute(sa.insert(PurchaseEvent), rows)
    release.release(session, scheme, AFTER)
    session.commit()
    return scheme


def _beveren(client: FlaskClient, headers: dict[str, str], last: date) -> dict[str, Any]:
    answer = client.get("/api/v1/reports/spending", headers=headers, query_string={
        "by": "postcode", "from": FIRST.isoformat(), "to": last.isoformat()})
    assert answer.status_code == 200, answer.json
    body: dict[str, Any] = answer.json  # type: ignore[assignment]
    assert body["released_until"] == ATTACKED.isoformat()
    return next(row for row in body["rows"] if row["key"] == BEVEREN)


def test_the_reviews_differencing_attack_through_the_api_yields_the_released_cell(
    client: FlaskClient, session: Session
) -> None:
    scheme = _town(session)
    headers = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    long, short = _beveren(client, headers, ATTACKED), _beveren(client, headers, ATTACKED
                                                                  - timedelta(days=1))
    # 30 shoppers a day for two months: thousands of purchases, far above any noise.
    assert not long["suppressed"] and not short["suppressed"], (long, short)
    assert long["shoppers"] is None  # distinct shoppers are not released
    assert long["margin"]["purchases"] > 0 and long["margin"]["amount_cents"] > 0

    # The difference is exactly 2 December's released cell: 4 purchases plus noise
    # of scale 30 (spread: test_release), never the exact figure read off the events.
    cell = session.get_one(ReleasedCell, (scheme.id, ATTACKED, "area", BEVEREN))
    assert long["purchases"] - short["purchases"] == cell.purchases
    assert long["amount_cents"] - short["amount_cents"] == cell.amount_cents
    sums = session.execute(
        sa.select(sa.func.sum(ReleasedCell.purchases), sa.func.sum(ReleasedCell.amount_cents))
        .where(ReleasedCell.scheme_id == scheme.id, ReleasedCell.table == "area",
               ReleasedCell.key == BEVEREN)).one()
    assert (long["purchases"], long["amount_cents"]) == tuple(sums)

    # The day alone: its noisy cell, shown or hidden by the k rule on that noisy count.
    one_day = client.get("/api/v1/reports/spending", headers=headers, query_string={
        "by": "postcode", "from": ATTACKED.isoformat(), "to": ATTACKED.isoformat()}).json
    row = next(r for r in one_day["rows"] if r["key"] == BEVEREN)
    if cell.purchases < scheme.k_anonymity:
        assert row["suppressed"] and row["purchases"] is None and row["margin"] is None
    else:
        assert row["purchases"] == cell.purchases


def _by_shop(client: FlaskClient, headers: dict[str, str], **dates: str) -> dict[str, Any]:
    answer = client.get("/api/v1/reports/spending", headers=headers,
                        query_string={"by": "merchant", **dates})
    assert answer.status_code == 200, (dates, answer.json)
    body: dict[str, Any] = answer.json  # type: ignore[assignment]
    return body


def _merchant_cells(session: Session, scheme: Scheme, first: date,
                    last: date) -> dict[str, tuple[int, int]]:
    """Per shop: the sums of its released merchant cells over the days, read here."""
    return {key: (int(p), int(a)) for key, p, a in session.execute(
        sa.select(ReleasedCell.key, sa.func.sum(ReleasedCell.purchases),
                  sa.func.sum(ReleasedCell.amount_cents))
        .where(ReleasedCell.scheme_id == scheme.id, ReleasedCell.table == "merchant",
               ReleasedCell.day.between(first, last))
        .group_by(ReleasedCell.key))}


def test_spending_by_shop_is_released_for_any_dates(
    client: FlaskClient, session: Session
) -> None:
    scheme = _town(session)
    headers = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    shops = {str(m.id): m.name for m in scheme.merchants}
    # Not a whole month, a month not over yet, no dates at all: answered, from released days.
    for dates in ({"from": "2026-11-01", "to": "2026-11-29"},
                  {"from": "2026-12-01", "to": "2026-12-31"}, {}):
        body = _by_shop(client, headers, **dates)
        assert body["released_until"] == ATTACKED.isoformat()
        # Every shop of the scheme has its row (hidden or not), named.
        assert {row["key"]: row["label"] for row in body["rows"]} == shops
        first = date.fromisoformat(dates.get("from", "2000-01-01"))
        last = date.fromisoformat(dates.get("to", "9999-12-31"))
        sums = _merchant_cells(session, scheme, first, last)
        for row in body["rows"]:
            assert row["shoppers"] is None  # distinct shoppers are not released
            if sums[row["key"]][0] < scheme.k_anonymity:
                assert row["suppressed"]
            if not row["suppressed"]:
                assert (row["purchases"], row["amount_cents"]) == sums[row["key"]]
                assert row["margin"]["purchases"] > 0 and row["margin"]["amount_cents"] > 0

    # The review's attack per shop: two overlapping ranges differ by each shop's
    # released cell of 2 December, noise on that day's purchases, never the exact figure.
    long = {r["key"]: r for r in _by_shop(client, headers, **{
        "from": FIRST.isoformat(), "to": ATTACKED.isoformat()})["rows"]}
    short = {r["key"]: r for r in _by_shop(client, headers, **{
        "from": FIRST.isoformat(), "to": (ATTACKED - timedelta(days=1)).isoformat()})["rows"]}
    both = [key for key in shops if not long[key]["suppressed"] and not short[key]["suppressed"]]
    assert len(both) >= 3, (long, short)
    exact = dict(session.execute(
        sa.select(PurchaseEvent.merchant_id, sa.func.count())
        .where(PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.local_date == ATTACKED)
        .group_by(PurchaseEvent.merchant_id)).all())
    differences = {}
    for key in both:
        cell = session.get_one(ReleasedCell, (scheme.id, ATTACKED, "merchant", key))
        assert long[key]["purchases"] - short[key]["purchases"] == cell.purchases
        assert long[key]["amount_cents"] - short[key]["amount_cents"] == cell.amount_cents
        differences[key] = cell.purchases - exact.get(int(key), 0)
    # Noise of scale 36 on each: that all of them are exact has a chance below 1 in 10^5.
    assert any(differences.values()), differences

    # Single days: a shop's noisy count below k is hidden (the k rule on the noise).
    hidden = 0
    for n in range(10):
        day = (ATTACKED - timedelta(days=n)).isoformat()
        body = _by_shop(client, headers, **{"from": day, "to": day})
        cells = _merchant_cells(session, scheme, date.fromisoformat(day),
                                date.fromisoformat(day))
        rows = body["rows"]
        for row in rows:
            if cells[row["key"]][0] < scheme.k_anonymity:
                assert row["suppressed"] and row["purchases"] is None and row["margin"] is None
            if row["suppressed"]:
                hidden += 1
            else:
                assert row["purchases"] == cells[row["key"]][0]
        assert sum(r["suppressed"] for r in rows) != 1  # never one hidden alone
    # 23 shops a day with a few purchases each under noise of scale 36: many hidden.
    assert hidden > 20


def test_the_shop_report_answers_for_any_dates_from_the_released_cells(
    client: FlaskClient, session: Session
) -> None:
    scheme = _town(session)
    headers = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    first, last = date(2026, 11, 3), date(2026, 11, 20)  # no calendar period
    answer = client.get("/api/v1/reports/shops", headers=headers, query_string={
        "from": first.isoformat(), "to": last.isoformat()})
    assert answer.status_code == 200, answer.json
    body: dict[str, Any] = answer.json  # type: ignore[assignment]
    assert body["released"] and body["released_until"] == ATTACKED.isoformat()
    assert "shoppers" not in {column["name"] for column in body["columns"]}
    sums = _merchant_cells(session, scheme, first, last)
    assert {row["key"] for row in body["rows"]} == {str(m.id) for m in scheme.merchants}
    for row in body["rows"]:
        if sums[row["key"]][0] < scheme.k_anonymity:
            assert row["suppressed"]
        if not row["suppressed"]:
            assert (row["purchases"], row["amount_cents"]) == sums[row["key"]]
            assert row["purchases_margin"] > 0
    whole = release.released_by(session, scheme.id, "all", Period(first, last))["all"]
    assert (body["total"]["purchases"], body["total"]["amount_cents"]) == (
        whole.purchases, whole.amount_cents)
