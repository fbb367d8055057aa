"""The contract's spending report is arithmetic on released cells: the outside
review's differencing attack, through the API, now yields a released (noisy) cell."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.analytics import generate, release
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


def test_spending_by_shop_is_only_for_whole_closed_periods(
    client: FlaskClient, session: Session
) -> None:
    scheme = _town(session)
    headers = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    for period in ({"from": "2026-11-01", "to": "2026-11-29"},  # not a whole month
                   {"from": "2026-12-01", "to": "2026-12-31"},  # not over yet
                   {}):
        answer = client.get("/api/v1/reports/spending", headers=headers,
                            query_string={"by": "merchant", **period})
        assert answer.status_code == 422, (period, answer.json)
        assert answer.json["error"]["code"] == "period_not_aligned"
    whole = client.get("/api/v1/reports/spending", headers=headers,
                       query_string={"by": "merchant", "from": "2026-11-01",
                                     "to": "2026-11-30"}).json
    exact = dict(session.execute(
        sa.select(PurchaseEvent.merchant_id, sa.func.count())
        .where(PurchaseEvent.scheme_id == scheme.id,
               PurchaseEvent.local_date.between(date(2026, 11, 1), date(2026, 11, 30)))
        .group_by(PurchaseEvent.merchant_id)).all())
    shown = [row for row in whole["rows"] if not row["suppressed"]]
    assert shown and whole["released_until"] is None
    for row in shown:  # exact figures, a month at a time
        assert row["purchases"] == exact[int(row["key"])] and row["margin"] is None
