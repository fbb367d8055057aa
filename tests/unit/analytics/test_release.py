"""Released statistics: bounded days, noise from OpenDP at the stated scale, each day
written once, and the outside review's differencing attack reduced to noise."""

from __future__ import annotations

import math
import random
import statistics
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import generate, release
from loyalty.analytics.kinds import shopping_kind
from loyalty.analytics.periods import Period
from loyalty.analytics.release import Parameters, Purchase
from loyalty.models import PurchaseEvent, ReleasedCell, ReleasedDay, Scheme
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import make_merchant, make_scheme

BEVEREN = "nis:46030"  # postcode 9120 (Beveren-Kruibeke-Zwijndrecht)
ATTACKED = date(2026, 12, 2)
# The review's two reports: their difference is the single day 2 December.
LONG = Period(date(2026, 10, 3), date(2026, 12, 2))
SHORT = Period(date(2026, 10, 3), date(2026, 12, 1))
# 2 December closed, and its half hour of grace passed (town time is UTC+1).
AFTER = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
KEYS = {
    "all": ["all"],
    "sector": ["47.24", "56.301"],
    "area": ["village:De Klinge", BEVEREN, release.OTHER_AREA, "unknown"],
    "age_band": ["25-34", "unknown"],
    "hour": [str(h) for h in range(24)],
    "merchant": ["1", "2", "3"],
}


def _purchase(i: int, shopper: str, cents: int = 2_000, sector: str = "47.24",
              area: str = "village:De Klinge", hour: int = 10, merchant: str = "1") -> Purchase:
    return Purchase(id=i, shopper_key=shopper, sector=sector, area=area, age_band="25-34",
                    hour=hour, amount_cents=cents, merchant=merchant)


def _random_day(rng: random.Random, shoppers: int) -> list[Purchase]:
    out = []
    for i in range(rng.randint(0, shoppers * 4)):
        out.append(_purchase(
            i, f"s{rng.randrange(shoppers)}", rng.choice([300, 2_500, 9_000, 40_000]),
            rng.choice(KEYS["sector"]), rng.choice(KEYS["area"]), rng.randrange(24),
            rng.choice(KEYS["merchant"])))
    return out


def test_a_shoppers_day_counts_its_first_purchases_up_to_the_euro_bound() -> None:
    day = [_purchase(5, "a", 6_000), _purchase(1, "a", 3_000), _purchase(9, "a", 500),
           _purchase(7, "a", 2_000), _purchase(2, "b", 25_000)]
    counted = {(p.shopper_key, p.id): cents for p, cents in release.bounded(day, 3, 10_000)}
    # Shopper a: ids 1, 5, 7 (the first three), 3000 + 6000 + the 1000 left of 2000.
    assert counted == {("a", 1): 3_000, ("a", 5): 6_000, ("a", 7): 1_000, ("b", 2): 10_000}


def test_one_shoppers_day_moves_each_table_within_the_bound() -> None:
    """The sensitivity the noise is calibrated to holds on any day: with or without
    one shopper, every table's purchases differ by at most max_purchases in total
    (L1) and its amounts by at most max_cents."""
    rng = random.Random(17)
    for _ in range(300):
        day = _random_day(rng, 6)
        extra = [_purchase(1_000 + j, "newcomer", rng.choice([500, 8_000, 30_000]),
                           rng.choice(KEYS["sector"]), rng.choice(KEYS["area"]),
                           rng.randrange(24), rng.choice(KEYS["merchant"]))
                 for j in range(rng.randint(1, 8))]
        without = release.exact_cells(release.bounded(day, 3, 10_000), KEYS)
        with_one = release.exact_cells(release.bounded(day + extra, 3, 10_000), KEYS)
        for table in KEYS:
            moved_p = sum(abs(with_one[table][k][0] - without[table][k][0]) for k in KEYS[table])
            moved_c = sum(abs(with_one[table][k][1] - without[table][k][1]) for k in KEYS[table])
            assert moved_p <= 3 and moved_c <= 10_000, (table, moved_p, moved_c)


def test_the_cells_of_a_table_are_the_same_whoever_shopped() -> None:
    """An empty day has every cell, at zero: a cell's existence tells nothing."""
    empty = release.exact_cells([], KEYS)
    assert {t: list(c) for t, c in empty.items()} == KEYS
    assert all(v == (0, 0) for cells in empty.values() for v in cells.values())


def test_neighbouring_data_sets_give_output_distributions_within_the_stated_budget() -> None:
    """Empirically: releasing a day with and without one shopper (who buys the most that
    counts), the probability of any outcome differs by a factor of at most e^epsilon
    of that figure; and the worst outcomes reach that factor, so the noise is not
    larger than stated either. A generous budget keeps the sample small."""
    # Six tables x two figures share the day's budget.
    params = Parameters(epsilon_per_day=12.0, max_purchases=3, max_cents=10_000)
    eps = params.epsilon_per_figure
    assert eps == 1.0 and params.purchases_scale == 3.0
    rng = random.Random(3)
    day = _random_day(rng, 8)
    shopper = [_purchase(900 + j, "neighbour", 5_000, sector="56.301") for j in range(5)]
    exact_d = release.exact_cells(release.bounded(day, 3, 10_000), KEYS)
    exact_n = release.exact_cells(release.bounded(day + shopper, 3, 10_000), KEYS)
    base = exact_d["sector"]["56.301"][0]
    assert exact_n["sector"]["56.301"][0] == base + 3

    # The day's sector table goes through the mechanism as the release does it.
    released = release.noisy_cells({"sector": exact_n["sector"]}, params)
    assert math.isclose(released.epsilon, 2 * eps)  # purchases and amounts
    # Many outcomes at once: the mechanism noises each coordinate of a vector
    # independently, so a vector of copies of the cell is a sample of its outcomes.
    samples = 12_000
    d, spent = release.noisy([base] * samples, 3, params.purchases_scale)
    n, _ = release.noisy([base + 3] * samples, 3, params.purchases_scale)
    assert math.isclose(spent, eps)
    # Outcome by outcome, where both have enough samples to judge.
    judged = 0
    for value in range(base - 10, base + 14):
        p, q = d.count(value) / samples, n.count(value) / samples
        if min(p, q) < 0.03:
            continue
        judged += 1
        assert abs(math.log(q / p)) <= eps + 0.3, (value, p, q)
    assert judged >= 5
    # Beyond both true values the ratio of Laplace tails is exactly e^(3/3) = e.
    tail_d = sum(v >= base + 3 for v in d) / samples
    tail_n = sum(v >= base + 3 for v in n) / samples
    assert math.exp(eps) * 0.9 <= tail_n / tail_d <= math.exp(eps) * 1.1


def test_a_whole_history_costs_at_most_the_days_it_touches(app: Flask,
                                                           session: Session) -> None:
    """One shopper's whole history: each day it touches is released at the day's
    budget, so removing it changes the released tables by at most the sum of those
    days' epsilon (pure differential privacy composes by adding): the yearly total."""
    scheme = _scheme(session)
    _events(session, scheme, 1_500, days=20)
    release.release(session, scheme, AFTER)
    session.commit()
    days = list(session.scalars(sa.select(ReleasedDay).where(
        ReleasedDay.scheme_id == scheme.id)))
    assert len(days) == 20
    # Each day spent its stated budget, as OpenDP accounts it (to rounding).
    assert all(math.isclose(day.epsilon, 1.0, rel_tol=1e-9) for day in days)
    spent = release.budget(session, scheme, 2026)
    assert spent.days_released == 20 and math.isclose(spent.epsilon_spent, 20.0)
    assert spent.epsilon_year == 365.0


def _scheme(session: Session) -> Scheme:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    for sector in SECTORS:
        make_merchant(session, scheme, sector=sector)
    session.commit()
    return scheme


def _events(session: Session, scheme: Scheme, n: int, days: int) -> None:
    generate.generate_events(session, scheme, n, end=ATTACKED, days=days, seed=9,
                             shoppers=max(60, n // 10))
    session.commit()


def _beveren_shoppers(session: Session, scheme: Scheme, day: date, shoppers: int) -> None:
    """A few shoppers from 9120 on one day: fewer than k."""
    merchant = make_merchant(session, scheme, sector="47.24")
    session.execute(sa.insert(PurchaseEvent), [
        {"scheme_id": scheme.id, "merchant_id": merchant.id, "sector": "47.24",
         "amount_cents": 1_850, "points": 18, "campaign_id": None, "local_date": day,
         "local_hour": 11, "weekday": day.weekday(), "shopper_key": f"beveren-{i}",
         "home_postcode": "9120", "home_village": None, "age_band": "45-54"}
        for i in range(shoppers)
    ])
    session.commit()


def _attack(session: Session, scheme: Scheme) -> int:
    long = release.released_sums(session, scheme.id, "area", LONG)[BEVEREN]
    short = release.released_sums(session, scheme.id, "area", SHORT)[BEVEREN]
    return long.purchases - short.purchases


def test_the_reviews_differencing_attack_yields_noise_of_the_mechanisms_spread(
        app: Flask, session: Session) -> None:
    scheme = _scheme(session)
    _events(session, scheme, 3_000, days=61)  # 3 October to 2 December
    _beveren_shoppers(session, scheme, ATTACKED, 4)
    params = release.parameters(scheme)
    result = release.release(session, scheme, AFTER)
    session.commit()
    assert result.days == 61 and result.already == 0
    true = session.scalar(sa.select(sa.func.count()).select_from(PurchaseEvent).where(
        PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.local_date == ATTACKED,
        PurchaseEvent.home_postcode == "9120"))
    assert true == 4

    # The two answers differ by exactly the released cell of 2 December: noise on 4.
    cell = session.get_one(ReleasedCell, (scheme.id, ATTACKED, "area", BEVEREN))
    assert _attack(session, scheme) == cell.purchases
    # 3 purchases over a twelfth of the day's budget of 1 (six tables, two figures).
    assert cell.purchases_scale == params.purchases_scale == 36.0
    # Its margin, as a page says it: 95% of such noise is within ln(20) x 36.
    one_day = release.released_sums(session, scheme.id, "area",
                                     Period(ATTACKED, ATTACKED))[BEVEREN]
    assert one_day.purchases_margin == math.ceil(36 * math.log(20))

    # Were the day released again and again (it is not: see the next test), the
    # attack's answer would be spread like the mechanism's noise: mean 4, and the
    # standard deviation of discrete Laplace noise of scale 36. 400 draws: the sample
    # deviation of Laplace noise then errs by about 5.6% (its kurtosis is 6), so the
    # 20% bounds below hold but for a chance of well under one in a thousand.
    answers = []
    for _ in range(400):
        with session.begin_nested() as savepoint:
            session.execute(sa.delete(ReleasedCell).where(
                ReleasedCell.scheme_id == scheme.id, ReleasedCell.day == ATTACKED))
            session.execute(sa.delete(ReleasedDay).where(
                ReleasedDay.scheme_id == scheme.id, ReleasedDay.day == ATTACKED))
            assert release.release_day(session, scheme, ATTACKED) is not None
            answers.append(_attack(session, scheme))
            savepoint.rollback()
    b = params.purchases_scale
    q = math.exp(-1 / b)
    expected_sd = math.sqrt(2 * q) / (1 - q)  # discrete Laplace: about b x sqrt(2)
    assert 0.8 * expected_sd <= statistics.stdev(answers) <= 1.2 * expected_sd
    assert abs(statistics.mean(answers) - 4) <= 4 * expected_sd / math.sqrt(len(answers))
    assert len(set(answers)) > 80  # not a few repeated values
    session.rollback()
    assert _attack(session, scheme) == cell.purchases  # the savepoints left nothing


def test_a_released_day_never_changes(app: Flask, session: Session) -> None:
    scheme = _scheme(session)
    _events(session, scheme, 600, days=10)
    first = release.release(session, scheme, AFTER)
    session.commit()
    before = sorted(session.execute(sa.select(
        ReleasedCell.day, ReleasedCell.table, ReleasedCell.key, ReleasedCell.purchases,
        ReleasedCell.amount_cents).where(ReleasedCell.scheme_id == scheme.id)).all())
    assert first.days == 10 and first.cells == len(before)

    # A late sale of a released day, a rerun, and a release of that day by hand.
    _beveren_shoppers(session, scheme, ATTACKED, 2)
    again = release.release(session, scheme, AFTER)
    assert (again.days, again.cells) == (0, 0)
    assert release.release_day(session, scheme, ATTACKED) is None
    session.commit()
    after = sorted(session.execute(sa.select(
        ReleasedCell.day, ReleasedCell.table, ReleasedCell.key, ReleasedCell.purchases,
        ReleasedCell.amount_cents).where(ReleasedCell.scheme_id == scheme.id)).all())
    assert after == before

    # The next night releases the next day only.
    later = release.release(session, scheme, AFTER + timedelta(days=1))
    assert later.days == 1


def test_a_day_still_open_or_in_its_grace_is_not_released(app: Flask,
                                                          session: Session) -> None:
    scheme = _scheme(session)
    _events(session, scheme, 200, days=3)
    # 00:20 town time on 3 December: 2 December closed only twenty minutes ago.
    early = datetime(2026, 12, 2, 23, 20, tzinfo=UTC)
    assert release.closed_days(session, scheme, early)[-1] == ATTACKED - timedelta(days=1)
    assert release.closed_days(session, scheme, AFTER)[-1] == ATTACKED


def test_concurrent_releases_write_each_day_once(app: Flask, session: Session) -> None:
    scheme = _scheme(session)
    _events(session, scheme, 800, days=15)
    factory = app.extensions["loyalty.sessions"]
    results: list[release.ReleaseResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait()
            with factory() as s, s.begin():
                results.append(release.release(s, s.get_one(Scheme, scheme.id), AFTER))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.days for r in results) == 15
    days = session.scalar(sa.select(sa.func.count()).select_from(ReleasedDay).where(
        ReleasedDay.scheme_id == scheme.id))
    cells = session.scalar(sa.select(sa.func.count()).select_from(ReleasedCell).where(
        ReleasedCell.scheme_id == scheme.id))
    assert days == 15 and cells == sum(r.cells for r in results)


def test_every_report_dimension_is_a_sum_of_released_cells(app: Flask,
                                                          session: Session) -> None:
    """Days, weekdays, months, the heatmap, sector groups and kinds of shopping are
    sums of the released cells (and nothing else), with margins that grow with the
    number of cells summed; days not released yet are simply not there."""
    scheme = _scheme(session)
    _events(session, scheme, 1_200, days=16)  # 17 November to 2 December
    release.release(session, scheme, AFTER - timedelta(days=2))  # up to 30 November
    session.commit()
    assert release.last_released_day(session, scheme.id) == date(2026, 11, 30)
    cells = session.execute(sa.select(
        ReleasedCell.day, ReleasedCell.table, ReleasedCell.key, ReleasedCell.purchases,
        ReleasedCell.amount_cents).where(ReleasedCell.scheme_id == scheme.id)).all()
    period = Period(date(2026, 11, 20), date(2026, 12, 2))
    inside = [c for c in cells if period.start <= c.day <= period.end]

    def expected(table: str, fold: Callable[[date, str], str]) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in inside:
            if c.table == table:
                out[fold(c.day, c.key)][0] += c.purchases
                out[fold(c.day, c.key)][1] += c.amount_cents
        return {k: (p, a) for k, (p, a) in out.items()}

    checks: dict[str, tuple[str, Callable[[date, str], str]]] = {
        "all": ("all", lambda _d, k: k),
        "day": ("all", lambda d, _k: d.isoformat()),
        "weekday": ("all", lambda d, _k: str(d.weekday())),
        "month": ("all", lambda d, _k: d.isoformat()[:7]),
        "hour": ("hour", lambda _d, k: k),
        "weekday_hour": ("hour", lambda d, k: f"{d.weekday()}-{k}"),
        "sector": ("sector", lambda _d, k: k),
        "sector_group": ("sector", lambda _d, k: k[:4]),
        "kind": ("sector", lambda _d, k: shopping_kind(k)),
        "area": ("area", lambda _d, k: k),
        "age_band": ("age_band", lambda _d, k: k),
        "merchant": ("merchant", lambda _d, k: k),
    }
    for dimension, (table, fold) in checks.items():
        got = release.released_by(session, scheme.id, dimension, period)
        assert {k: (r.purchases, r.amount_cents) for k, r in got.items()} == expected(
            table, fold), dimension
    # 11 released days in the period (20 to 30 November): the day cells have the
    # margin of one cell, the whole period that of 11 summed.
    days = release.released_by(session, scheme.id, "day", period)
    assert sorted(days) == [(date(2026, 11, 20) + timedelta(days=n)).isoformat()
                            for n in range(11)]
    assert {r.purchases_margin for r in days.values()} == {math.ceil(36 * math.log(20))}
    total = release.released_by(session, scheme.id, "all", period)["all"]
    assert total.cells == 11
    assert total.purchases_margin == math.ceil(1.96 * math.sqrt(11 * 2 * 36 ** 2))
    assert total.amount_margin_cents == math.ceil(1.96 * math.sqrt(11 * 2 * 120_000 ** 2))


# -- the merchant table: one cell per shop of the scheme -------------------------------------


def test_the_merchant_table_has_every_shop_of_the_scheme_as_keys(app: Flask,
                                                                session: Session) -> None:
    """Every shop has its cell every day, whether it sold or not; a shop added later has
    none in the days released before it."""
    scheme = _scheme(session)
    _events(session, scheme, 300, days=3)
    quiet = make_merchant(session, scheme, sector="47.24")  # joined after those sales
    session.commit()
    shops = [str(m.id) for m in sorted(scheme.merchants, key=lambda m: m.id)]
    assert release.table_keys(session, scheme)["merchant"] == shops
    assert release.release(session, scheme, AFTER - timedelta(days=1)).days == 2
    later = make_merchant(session, scheme, sector="47.24")
    assert release.release(session, scheme, AFTER).days == 1
    session.commit()
    keys: dict[date, set[str]] = defaultdict(set)
    for day, key in session.execute(sa.select(ReleasedCell.day, ReleasedCell.key).where(
            ReleasedCell.scheme_id == scheme.id, ReleasedCell.table == "merchant")):
        keys[day].add(key)
    assert sorted(keys) == [ATTACKED - timedelta(days=n) for n in (2, 1, 0)]
    assert keys[ATTACKED - timedelta(days=2)] == keys[ATTACKED - timedelta(days=1)] == set(shops)
    assert str(quiet.id) in keys[ATTACKED]
    assert keys[ATTACKED] == {*shops, str(later.id)}
    # Each purchase counts in its own shop's cell: the bounded exact cells of a day
    # add up to the day's whole count.
    day = [Purchase(id=row.id, shopper_key=row.shopper_key, sector=row.sector, area="",
                    age_band="", hour=0, amount_cents=row.amount_cents,
                    merchant=str(row.merchant_id))
           for row in session.execute(sa.select(PurchaseEvent).where(
               PurchaseEvent.scheme_id == scheme.id,
               PurchaseEvent.local_date == ATTACKED)).scalars()]
    exact = release.exact_cells(release.bounded(day, 3, 10_000),
                                {"all": ["all"], "merchant": shops})
    assert sum(p for p, _c in exact["merchant"].values()) == exact["all"]["all"][0] > 0
    assert exact["merchant"][str(quiet.id)] == (0, 0)


def _exact_merchant_cells(session: Session, scheme: Scheme, day: date,
                          shops: list[str]) -> dict[str, tuple[int, int]]:
    """A day's merchant cells before noise, worked out here from the events."""
    purchases = [
        Purchase(id=row.id, shopper_key=row.shopper_key, sector=row.sector, area="",
                 age_band="", hour=0, amount_cents=row.amount_cents,
                 merchant=str(row.merchant_id))
        for row in session.scalars(sa.select(PurchaseEvent).where(
            PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.local_date == day))
    ]
    return release.exact_cells(release.bounded(purchases, 3, 10_000),
                               {"merchant": shops})["merchant"]


def _laplace_sd(scale: float) -> float:
    q = math.exp(-1 / scale)
    return math.sqrt(2 * q) / (1 - q)


def test_the_merchant_cells_carry_noise_of_the_mechanisms_scale(app: Flask,
                                                               session: Session) -> None:
    """Released merchant cells minus the bounded exact ones: discrete Laplace noise of
    the day tables' scale (3 / (1 / 12) = 36 purchases, EUR 100 / (1 / 12) = EUR 1,200
    with the defaults), centred on zero, on purchases and on amounts alike."""
    scheme = _scheme(session)
    _events(session, scheme, 1_500, days=30)
    params = release.parameters(scheme)
    assert (params.purchases_scale, params.amount_scale) == (36.0, 120_000.0)
    release.release(session, scheme, AFTER)
    session.commit()
    shops = sorted(str(m.id) for m in scheme.merchants)
    noise_p: list[int] = []
    noise_a: list[int] = []
    for n in range(30):
        day = ATTACKED - timedelta(days=n)
        exact = _exact_merchant_cells(session, scheme, day, shops)
        released = {c.key: c for c in session.scalars(sa.select(ReleasedCell).where(
            ReleasedCell.scheme_id == scheme.id, ReleasedCell.day == day,
            ReleasedCell.table == "merchant"))}
        assert set(released) == set(shops)
        for key in shops:
            cell = released[key]
            assert (cell.purchases_scale, cell.amount_scale) == (36.0, 120_000.0)
            noise_p.append(cell.purchases - exact[key][0])
            noise_a.append(cell.amount_cents - exact[key][1])
    # 600 draws of each: the sample deviation of Laplace noise errs by about 5%, so
    # the 20% bounds hold but for a chance far below one in a thousand.
    for noise, scale in ((noise_p, 36.0), (noise_a, 120_000.0)):
        sd = _laplace_sd(scale)
        assert 0.8 * sd <= statistics.stdev(noise) <= 1.2 * sd, scale
        assert abs(statistics.mean(noise)) <= 4 * sd / math.sqrt(len(noise)), scale


def _released_without_merchant(session: Session, scheme: Scheme, first: date,
                               days: int) -> list[date]:
    """Days released as they were before the merchant table: five tables, no shop cells."""
    keys = release.table_keys(session, scheme)
    del keys["merchant"]
    out = [first + timedelta(days=n) for n in range(days)]
    for day in out:
        assert release.release_day(session, scheme, day, keys) is not None
    session.commit()
    return out


def _merchant_cell_rows(session: Session, scheme: Scheme) -> list[Any]:
    return sorted(session.execute(sa.select(
        ReleasedCell.day, ReleasedCell.key, ReleasedCell.purchases, ReleasedCell.amount_cents)
        .where(ReleasedCell.scheme_id == scheme.id, ReleasedCell.table == "merchant")).all())


def test_days_released_before_the_merchant_table_get_it_once_and_its_budget_is_counted(
        app: Flask, session: Session) -> None:
    scheme = _scheme(session)
    _events(session, scheme, 600, days=8)
    # The first five of the eight days were released before the merchant table.
    old = _released_without_merchant(session, scheme, ATTACKED - timedelta(days=7), 5)
    # Those days spent the whole daily budget on five tables.
    assert all(math.isclose(session.get_one(ReleasedDay, (scheme.id, d)).epsilon, 1.0)
               for d in old)
    others = sorted(session.execute(sa.select(
        ReleasedCell.day, ReleasedCell.table, ReleasedCell.key, ReleasedCell.purchases)
        .where(ReleasedCell.scheme_id == scheme.id)).all())

    result = release.release(session, scheme, AFTER)
    session.commit()
    # The three days before them are released whole; the five old ones get their shops.
    assert (result.days, result.supplemented) == (3, 5)
    shops = sorted(str(m.id) for m in scheme.merchants)
    assert result.supplement_cells == 5 * len(shops)
    rows = _merchant_cell_rows(session, scheme)
    assert {(r.day, r.key) for r in rows} == {
        (ATTACKED - timedelta(days=n), key) for n in range(8) for key in shops}
    # The merchant table's two figures spent 2 x 1/12 more on each old day, recorded
    # with the day; the year's total says so.
    session.expire_all()
    for day in old:
        recorded = session.get_one(ReleasedDay, (scheme.id, day))
        assert math.isclose(recorded.epsilon, 1.0 + 2 / 12)
        assert recorded.cells == session.scalar(sa.select(sa.func.count()).select_from(
            ReleasedCell).where(ReleasedCell.scheme_id == scheme.id, ReleasedCell.day == day))
    spent = release.budget(session, scheme, 2026)
    assert spent.days_released == 8
    assert math.isclose(spent.epsilon_spent, 3 * 1.0 + 5 * (1.0 + 2 / 12))
    # Their other tables did not change.
    assert [r for r in sorted(session.execute(sa.select(
        ReleasedCell.day, ReleasedCell.table, ReleasedCell.key, ReleasedCell.purchases)
        .where(ReleasedCell.scheme_id == scheme.id, ReleasedCell.table != "merchant")).all())
        if r.day in old] == others

    # Once: a rerun, and a supplement by hand, write and spend nothing more.
    again = release.release(session, scheme, AFTER)
    assert (again.days, again.supplemented, again.supplement_cells) == (0, 0, 0)
    assert release.supplement_day(session, scheme, old[0]) is None
    session.commit()
    assert _merchant_cell_rows(session, scheme) == rows
    assert math.isclose(release.budget(session, scheme, 2026).epsilon_spent,
                        spent.epsilon_spent)
    # A day never released gets no supplement either.
    assert release.supplement_day(session, scheme, ATTACKED + timedelta(days=1)) is None
