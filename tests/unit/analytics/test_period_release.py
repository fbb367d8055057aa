"""Released periods: the shopper statistics of each closed week, month, quarter and
year, within their sensitivity, noised as stated, written once, and the shopper
reports read from them with the k rule on the noisy counts."""

from __future__ import annotations

import math
import random
import statistics
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import catalog, generate, period_release, privacy, release
from loyalty.analytics.period_release import Activity, PeriodParameters
from loyalty.analytics.periods import Period
from loyalty.models import PurchaseEvent, ReleasedPeriod, ReleasedPeriodCell, Scheme
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import make_merchant, make_scheme

END = date(2026, 10, 31)
# 31 October closed, and its half hour of grace passed (town time is UTC+1).
AFTER = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
SEPTEMBER = Period(date(2026, 9, 1), date(2026, 9, 30))
KEYS = {
    "shoppers": ["all"],
    "frequency": ["1", "2-3", "4-6", "7-12", "13+"],
    "returning": ["1", "2-3", "4-6", "7-12", "13+"],
    "shops": ["1", "2", "3", "4-5", "6+"],
    "sector_pairs": [f"{a}+{b}" for i, a in enumerate("ABCDE") for b in "ABCDE"[i + 1:]],
}


def _random_shopper(rng: random.Random) -> Activity:
    return Activity(purchases=rng.randint(1, 20), shops=rng.randint(1, 8),
                    groups=frozenset(rng.sample("ABCDE", rng.randint(1, 5))),
                    returning=rng.random() < 0.5)


def test_one_shopper_moves_each_table_within_its_sensitivity() -> None:
    """The sensitivity the noise is calibrated to holds for any set of shoppers: with or
    without one shopper, each table moves by at most 1 in total (L1), the pairs by
    at most MAX_PAIRS."""
    rng = random.Random(5)
    for _ in range(300):
        others = [_random_shopper(rng) for _ in range(rng.randint(0, 12))]
        without = period_release.exact_counts(others, KEYS)
        with_one = period_release.exact_counts([*others, _random_shopper(rng)], KEYS)
        for table, keys in KEYS.items():
            moved = sum(abs(with_one[table][k] - without[table][k]) for k in keys)
            assert moved <= period_release.SENSITIVITY[table], (table, moved)
    assert period_release.SENSITIVITY["sector_pairs"] == period_release.MAX_PAIRS == 6


def test_the_tables_count_shoppers_in_their_bins() -> None:
    shoppers = [
        Activity(purchases=1, shops=1, groups=frozenset("A"), returning=False),
        Activity(purchases=3, shops=2, groups=frozenset("AB"), returning=True),
        Activity(purchases=13, shops=6, groups=frozenset("ABCDE"), returning=True),
    ]
    counts = period_release.exact_counts(shoppers, KEYS)
    assert counts["shoppers"] == {"all": 3}
    assert counts["frequency"] == {"1": 1, "2-3": 1, "4-6": 0, "7-12": 0, "13+": 1}
    assert counts["returning"] == {"1": 0, "2-3": 1, "4-6": 0, "7-12": 0, "13+": 1}
    assert counts["shops"] == {"1": 1, "2": 1, "3": 0, "4-5": 0, "6+": 1}
    # Five groups make ten pairs: the third shopper counts in the first six only.
    assert counts["sector_pairs"] == {"A+B": 2, "A+C": 1, "A+D": 1, "A+E": 1, "B+C": 1,
                                      "B+D": 1, "B+E": 0, "C+D": 0, "C+E": 0, "D+E": 0}
    # Every cell is there whoever shopped, at zero for none.
    empty = period_release.exact_counts([], KEYS)
    assert {t: list(c) for t, c in empty.items()} == KEYS
    assert all(v == 0 for cells in empty.values() for v in cells.values())


def test_the_noise_has_the_mechanisms_spread_and_spends_the_stated_budget() -> None:
    """300 releases of one count (a table of 300 copies: OpenDP noises each coordinate
    independently) spread as discrete Laplace noise of scale sensitivity / (epsilon /
    tables) does; the whole period spends its epsilon, as OpenDP accounts it."""
    params = PeriodParameters(epsilon_per_period=1.0)
    assert params.scale(1) == 5.0 and params.scale(6) == 30.0
    draws = period_release.noisy_counts({"shoppers": {str(i): 40 for i in range(300)}},
                                        params)
    values = [value for value, _scale in draws.cells["shoppers"].values()]
    assert {scale for _value, scale in draws.cells["shoppers"].values()} == {5.0}
    assert math.isclose(draws.epsilon, 0.2)  # one table's share of the period
    # Discrete Laplace of scale 5: variance 2 e^(-1/5) / (1 - e^(-1/5))^2, about 49.8;
    # a sample of 300 estimates it within 35% (2.7 of its standard errors).
    q = math.exp(-1 / 5)
    variance = 2 * q / (1 - q) ** 2
    assert abs(statistics.fmean(values) - 40) < 1.5
    assert 0.65 * variance < statistics.variance(values) < 1.35 * variance
    assert len(set(values)) > 20  # integers spread out, not a few repeated values
    # The margin pages show holds about 95 times out of 100.
    margin = release.margin(0.0, 1, 5.0)
    assert margin == math.ceil(5 * math.log(20)) == 15
    inside = sum(abs(v - 40) <= margin for v in values) / len(values)
    assert inside >= 0.91
    # All five tables: the period's whole budget; across New Year twice the noise.
    whole = period_release.noisy_counts(period_release.exact_counts([], KEYS), params)
    assert math.isclose(whole.epsilon, 1.0)
    doubled = period_release.noisy_counts({"shoppers": {"all": 0}}, params, pseudonyms=2)
    assert doubled.cells["shoppers"]["all"][1] == 10.0 and math.isclose(doubled.epsilon, 0.2)


def test_the_k_rule_reads_the_noisy_count_of_shoppers() -> None:
    """A released count below k is hidden (with its margin), at k or above it is shown,
    whatever the exact count was; no shop rule, as no amount is shown."""
    def cell(key: str, noisy: int) -> privacy.Cell:
        return privacy.Cell(key=key, label=key, purchases=None, amount_cents=None,
                            shoppers=noisy, shops=0, top_shop_amount_cents=0,
                            released=True, shoppers_margin=15)

    shown = privacy.suppress([cell("a", 9), cell("b", 10), cell("c", 40), cell("d", 12)], 10)
    assert [(c.key, c.suppressed, c.hidden_by) for c in shown] == [
        ("a", True, "shoppers"), ("b", True, "secondary"), ("c", False, None),
        ("d", False, None)]
    assert shown[0].shoppers is None and shown[0].shoppers_margin is None
    assert (shown[2].shoppers, shown[2].shoppers_margin) == (40, 15)


def test_periods_are_the_closed_weeks_months_quarters_and_years() -> None:
    assert period_release.kind_of(SEPTEMBER) == ("month", date(2026, 9, 1))
    assert period_release.kind_of(Period(date(2026, 9, 7), date(2026, 9, 13))) == (
        "week", date(2026, 9, 7))
    assert period_release.kind_of(Period(date(2026, 9, 8), date(2026, 9, 14))) is None
    assert period_release.first_of("quarter", date(2026, 8, 17)) == date(2026, 7, 1)
    assert period_release.previous_of("week", date(2026, 9, 7)).start == date(2026, 8, 31)
    assert period_release.periods_in_year(2026) == 52 + 12 + 4 + 1
    assert period_release.periods_in_year(2029) == 53 + 12 + 4 + 1  # 1 January a Monday


def _scheme(session: Session, k: int = 5, days: int = 61) -> Scheme:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    scheme.k_anonymity = k
    for sector in SECTORS:
        make_merchant(session, scheme, sector=sector)
    generate.generate_events(session, scheme, 25 * days, end=END, days=days, seed=4,
                             shoppers=150)
    session.commit()
    return scheme


def _cells(session: Session, scheme: Scheme) -> list[Any]:
    return sorted(session.execute(sa.select(
        ReleasedPeriodCell.kind, ReleasedPeriodCell.start, ReleasedPeriodCell.table,
        ReleasedPeriodCell.key, ReleasedPeriodCell.shoppers, ReleasedPeriodCell.scale,
    ).where(ReleasedPeriodCell.scheme_id == scheme.id)).all())


def test_a_released_period_never_changes(app: Flask, session: Session) -> None:
    scheme = _scheme(session)
    # 00:20 town time on 1 November: October closed only twenty minutes ago.
    early = datetime(2026, 10, 31, 23, 20, tzinfo=UTC)
    assert ("month", date(2026, 10, 1)) not in period_release.closed_periods(
        session, scheme, early)
    first = period_release.release_periods(session, scheme, AFTER)
    session.commit()
    released = {(p.kind, p.start) for p in session.scalars(
        sa.select(ReleasedPeriod).where(ReleasedPeriod.scheme_id == scheme.id))}
    # Sales from 1 September: its weeks up to 25 October, September and October, the
    # third quarter (the year and the fourth quarter are still open).
    assert {("month", date(2026, 9, 1)), ("month", date(2026, 10, 1)),
            ("quarter", date(2026, 7, 1)), ("week", date(2026, 10, 19))} <= released
    assert not {k for k, _start in released} & {"year"}
    assert ("week", date(2026, 10, 26)) not in released  # ends 1 November, still open
    before = _cells(session, scheme)
    assert first.periods == len(released) and first.cells == len(before)

    # A late sale in September, a rerun, and a release of September by hand.
    merchant = make_merchant(session, scheme, sector="47.24")
    session.execute(sa.insert(PurchaseEvent), [
        {"scheme_id": scheme.id, "merchant_id": merchant.id, "sector": "47.24",
         "amount_cents": 1_850, "points": 18, "campaign_id": None,
         "local_date": date(2026, 9, 9), "local_hour": 11, "weekday": 2,
         "shopper_key": f"late-{i}", "home_postcode": "9120", "home_village": None,
         "age_band": "45-54"} for i in range(7)])
    session.commit()
    again = period_release.release_periods(session, scheme, AFTER)
    assert (again.periods, again.cells) == (0, 0)
    assert period_release.release_period(session, scheme, "month", date(2026, 9, 1)) is None
    session.commit()
    assert _cells(session, scheme) == before


def test_concurrent_releases_write_each_period_once(app: Flask, session: Session) -> None:
    scheme = _scheme(session)
    expected = len(period_release.closed_periods(session, scheme, AFTER))
    scheme_id = scheme.id
    session.rollback()  # the counts below see what the threads committed
    factory = app.extensions["loyalty.sessions"]
    results: list[period_release.PeriodReleaseResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait()
            with factory() as s, s.begin():
                results.append(period_release.release_periods(
                    s, s.get_one(Scheme, scheme_id), AFTER))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert expected > 10 and sum(r.periods for r in results) == expected
    periods = session.scalar(sa.select(sa.func.count()).select_from(ReleasedPeriod).where(
        ReleasedPeriod.scheme_id == scheme_id))
    cells = session.scalar(sa.select(sa.func.count()).select_from(ReleasedPeriodCell).where(
        ReleasedPeriodCell.scheme_id == scheme_id))
    assert periods == expected and cells == sum(r.cells for r in results)


def _exact_september(session: Session, scheme: Scheme) -> dict[str, dict[str, int]]:
    """September's tables worked out here in plain Python over the events."""
    purchases: dict[str, int] = defaultdict(int)
    shops: dict[str, set[int]] = defaultdict(set)
    august: set[str] = set()
    for key, merchant, day in session.execute(
        sa.select(PurchaseEvent.shopper_key, PurchaseEvent.merchant_id,
                  PurchaseEvent.local_date).where(PurchaseEvent.scheme_id == scheme.id)):
        if SEPTEMBER.start <= day <= SEPTEMBER.end:
            purchases[key] += 1
            shops[key].add(merchant)
        elif date(2026, 8, 1) <= day <= date(2026, 8, 31):
            august.add(key)
    bins = {"1": (1, 1), "2-3": (2, 3), "4-6": (4, 6), "7-12": (7, 12), "13+": (13, 10**9)}
    out: dict[str, dict[str, int]] = {"frequency": {}, "returning": {}}
    for label, (low, high) in bins.items():
        members = [key for key, n in purchases.items() if low <= n <= high]
        out["frequency"][label] = len(members)
        out["returning"][label] = len([key for key in members if key in august])
    out["shoppers"] = {"all": len(purchases)}
    return out


def test_the_shopper_reports_answer_with_the_released_cells(app: Flask,
                                                            session: Session) -> None:
    """The frequency report of September shows the released (noisy) counts with their
    margins, never the exact ones; the k rule reads the noisy counts; a late sale
    changes no answer; a month not released yet has no rows and says so."""
    # Sales from 1 August: September has returning shoppers.
    scheme = _scheme(session, k=10, days=92)
    exact = _exact_september(session, scheme)
    assert sum(exact["returning"].values()) > 0
    # Not released yet: no rows, the report says so.
    pending = catalog.build(session, scheme, "frequency", SEPTEMBER, "en")
    assert pending.period_released is False and pending.rows == []
    period_release.release_periods(session, scheme, AFTER)
    session.commit()

    released = period_release.released(session, scheme.id, SEPTEMBER)
    assert released is not None
    report = catalog.build(session, scheme, "frequency", SEPTEMBER, "en")
    assert report.period_released is True
    assert [row.key for row in report.rows] == list(exact["frequency"])
    noise = []
    for row in report.rows:
        figure, back = released["frequency"][row.key], released["returning"][row.key]
        noise.append(figure.shoppers - exact["frequency"][row.key])
        if row.suppressed:
            assert row.shoppers is None and row.extra["returning"] is None
            assert figure.shoppers < 10 or row.hidden_by == "secondary"
        else:
            assert figure.shoppers >= 10
            assert (row.shoppers, row.shoppers_margin) == (figure.shoppers, figure.margin)
            assert row.extra == {"returning": back.shoppers, "returning_margin": back.margin}
    # The answers are the exact counts plus noise (scale 5), not the exact counts.
    assert any(noise) and all(abs(n) < 60 for n in noise)

    # The distinct shoppers and the shops per shopper are released the same way.
    assert abs(released["shoppers"]["all"].shoppers - exact["shoppers"]["all"]) < 60
    cross = catalog.build(session, scheme, "cross-shopping", SEPTEMBER, "en")
    assert [r.key for r in cross.rows] == list(released["shops"])
    for row in cross.rows:
        figure = released["shops"][row.key]
        if row.suppressed:
            assert figure.shoppers < 10 or row.hidden_by == "secondary"
        else:
            assert (row.shoppers, row.shoppers_margin) == (figure.shoppers, figure.margin)
            assert figure.shoppers >= 10
    pairs = catalog.build(session, scheme, "sector-pairs", SEPTEMBER, "en")
    assert pairs.rows  # the visible pairs, most shoppers first
    shown = [r.shoppers or 0 for r in pairs.rows]
    assert [released["sector_pairs"][r.key].shoppers for r in pairs.rows] == shown
    assert min(shown) >= 10 and shown == sorted(shown, reverse=True)

    # A late sale in September changes no answer: differencing two answers gives nothing.
    merchant = make_merchant(session, scheme, sector="47.24")
    session.execute(sa.insert(PurchaseEvent), [
        {"scheme_id": scheme.id, "merchant_id": merchant.id, "sector": "47.24",
         "amount_cents": 1_850, "points": 18, "campaign_id": None,
         "local_date": date(2026, 9, 9) + timedelta(days=i % 3), "local_hour": 11,
         "weekday": 2, "shopper_key": f"late-{i}", "home_postcode": "9120",
         "home_village": None, "age_band": "45-54"} for i in range(12)])
    session.commit()
    period_release.release_periods(session, scheme, AFTER)
    later = catalog.build(session, scheme, "frequency", SEPTEMBER, "en")
    assert later.rows == report.rows
    session.rollback()
