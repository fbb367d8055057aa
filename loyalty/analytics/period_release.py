"""Released shopper statistics: each closed week, month, quarter and year, once, with noise.

Distinct shoppers and distributions over shoppers (how often they bought, at how
many shops, in which pairs of sector groups) are no sums of days: a shopper who
bought on two days is one shopper. So they cannot be added up from the released
days (analytics.release) and are released per *aligned period* instead: once an
ISO week, calendar month, quarter or year (in the scheme's time zone) has closed
and ``release.GRACE`` has passed, ``release_periods`` computes per period

- ``shoppers``: the distinct shoppers ("all");
- ``frequency``: shoppers per number of purchases (``FREQUENCY_BINS``);
- ``returning``: of those, the shoppers who bought in the period before as well
  (the previous week, month ...), per the same bins;
- ``shops``: shoppers per number of different shops (``SHOPS_BINS``);
- ``sector_pairs``: per pair of sector groups of the scheme's shops, the
  shoppers who bought in both; one shopper counts in at most ``MAX_PAIRS``
  pairs (the first ones in order), so that one shopper's weight is bounded.

Each shopper lies in exactly one cell of ``shoppers``, ``frequency``,
``returning`` (or none) and ``shops``: adding or removing one shopper changes
each of those tables by at most 1 in total (L1), and ``sector_pairs`` by at most
``MAX_PAIRS``. Pseudonyms change every calendar year, so in a week across New
Year one person may be two pseudonyms: such a period's sensitivities are
doubled. Every table gets discrete Laplace noise from OpenDP (``release.noisy``)
at the scale that spends ``epsilon_per_period / tables`` for its sensitivity;
the budget OpenDP accounts is stored with the period.

The cells of each table are public lists (the bins, every pair of sector groups
of the scheme's shops), the same whoever shopped; only counts are stored, no
pseudonym. The period's row in ``analytics_released_periods`` is inserted before
its cells in the same transaction, so a second release (a rerun, another worker)
fails on its key and writes nothing: a released cell never changes.

See docs/privacy.md for the method in plain words.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from loyalty.analytics import release
from loyalty.analytics.periods import Period
from loyalty.analytics.rollups import GROUP_CHARS
from loyalty.models import (
    Merchant,
    PurchaseEvent,
    ReleasedPeriod,
    ReleasedPeriodCell,
    Scheme,
)

# Shoppers by purchases, and by different shops, in the period.
FREQUENCY_BINS = ((1, 1, "1"), (2, 3, "2-3"), (4, 6, "4-6"), (7, 12, "7-12"), (13, 10**9, "13+"))
SHOPS_BINS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4-5"), (6, 10**9, "6+"))
KINDS = ("week", "month", "quarter", "year")
PERIOD_TABLES = ("shoppers", "frequency", "returning", "shops", "sector_pairs")
# One shopper counts in this many pairs of sector groups at most (in four groups:
# all six of their pairs); the noise of the pairs is scaled to it.
MAX_PAIRS = 6
SENSITIVITY = {"shoppers": 1, "frequency": 1, "returning": 1, "shops": 1,
               "sector_pairs": MAX_PAIRS}
DEFAULT_EPSILON = 1.0

Progress = release.Progress


@dataclass(frozen=True)
class PeriodParameters:
    """A scheme's privacy parameter for the periods it releases."""

    epsilon_per_period: float
    tables: int = len(PERIOD_TABLES)  # the period's tables share its budget

    @property
    def epsilon_per_table(self) -> float:
        return self.epsilon_per_period / self.tables

    def scale(self, sensitivity: int) -> float:
        """The noise scale that spends a table's share for this L1 sensitivity."""
        return sensitivity / self.epsilon_per_table


def parameters(scheme: Scheme) -> PeriodParameters:
    return PeriodParameters(float(scheme.release_epsilon_per_period or DEFAULT_EPSILON))


# -- the periods ------------------------------------------------------------------------------


def period_of(kind: str, start: date) -> Period:
    """The whole period of a kind that begins on ``start``."""
    if kind == "week":
        return Period(start, start + timedelta(days=6))
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    return Period(start, start + relativedelta(months=months) - timedelta(days=1))


def first_of(kind: str, day: date) -> date:
    """The first day of the period of a kind that holds ``day``."""
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    if kind == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def kind_of(period: Period) -> tuple[str, date] | None:
    """(kind, start) when the period is exactly one ISO week, month, quarter or year."""
    grain = period.grain()
    if grain is not None:
        return grain
    if period.start.weekday() == 0 and period.days == 7:
        return ("week", period.start)
    return None


def previous_of(kind: str, start: date) -> Period:
    """The period of the same kind right before (whose shoppers are "returning")."""
    if kind == "week":
        return period_of(kind, start - timedelta(days=7))
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    return period_of(kind, start - relativedelta(months=months))


# -- what the release reads: per shopper, internal only --------------------------------------


@dataclass(frozen=True)
class Activity:
    """One shopper's period, as the tables count it; the pseudonym is not kept."""

    purchases: int
    shops: int
    groups: frozenset[str]  # sector groups bought in
    returning: bool


def activities(session: Session, scheme_id: int, kind: str, start: date) -> list[Activity]:
    """Every shopper's period, from the purchase events (the release does not wait
    for the rollups)."""
    period = period_of(kind, start)
    rows = session.execute(
        sa.select(PurchaseEvent.shopper_key, PurchaseEvent.merchant_id, PurchaseEvent.sector,
                  sa.func.count())
        .where(PurchaseEvent.scheme_id == scheme_id,
               PurchaseEvent.local_date >= period.start,
               PurchaseEvent.local_date <= period.end)
        .group_by(PurchaseEvent.shopper_key, PurchaseEvent.merchant_id, PurchaseEvent.sector)
    )
    purchases: dict[str, int] = defaultdict(int)
    shops: dict[str, set[int]] = defaultdict(set)
    groups: dict[str, set[str]] = defaultdict(set)
    for key, merchant, sector, n in rows:
        purchases[key] += int(n)
        shops[key].add(int(merchant))
        groups[key].add(sector[:GROUP_CHARS])
    before = previous_of(kind, start)
    seen_before = set(session.scalars(
        sa.select(PurchaseEvent.shopper_key).distinct()
        .where(PurchaseEvent.scheme_id == scheme_id,
               PurchaseEvent.local_date >= before.start,
               PurchaseEvent.local_date <= before.end)))
    return [Activity(purchases[key], len(shops[key]), frozenset(groups[key]),
                     key in seen_before) for key in purchases]


# -- the fixed cells and the exact counts ------------------------------------------------------


def _label(value: int, bins: tuple[tuple[int, int, str], ...]) -> str:
    return next(label for low, high, label in bins if low <= value <= high)


def pair_key(first: str, second: str) -> str:
    return f"{first}+{second}"


def table_keys(session: Session, scheme: Scheme) -> dict[str, list[str]]:
    """The cells of each table: public lists, the same whoever shopped."""
    groups = sorted({sector[:GROUP_CHARS] for sector in session.scalars(
        sa.select(Merchant.sector).where(Merchant.scheme_id == scheme.id))})
    return {
        "shoppers": ["all"],
        "frequency": [label for _lo, _hi, label in FREQUENCY_BINS],
        "returning": [label for _lo, _hi, label in FREQUENCY_BINS],
        "shops": [label for _lo, _hi, label in SHOPS_BINS],
        "sector_pairs": [pair_key(a, b) for i, a in enumerate(groups) for b in groups[i + 1:]],
    }


def pairs_of(groups: frozenset[str], known: frozenset[str]) -> list[str]:
    """The pairs a shopper counts in: the first ``MAX_PAIRS`` known ones, in order."""
    names = sorted(groups)
    pairs = [pair_key(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    return [p for p in pairs if p in known][:MAX_PAIRS]


def exact_counts(shoppers: Sequence[Activity],
                 keys: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Shoppers per table and cell, every cell present (zeros too)."""
    out = {table: dict.fromkeys(table_keys_, 0) for table, table_keys_ in keys.items()}
    known_pairs = frozenset(keys.get("sector_pairs", []))
    for one in shoppers:
        out["shoppers"]["all"] += 1
        frequency = _label(one.purchases, FREQUENCY_BINS)
        out["frequency"][frequency] += 1
        if one.returning:
            out["returning"][frequency] += 1
        out["shops"][_label(one.shops, SHOPS_BINS)] += 1
        for pair in pairs_of(one.groups, known_pairs):
            out["sector_pairs"][pair] += 1
    return out


@dataclass(frozen=True)
class PeriodRelease:
    cells: dict[str, dict[str, tuple[int, float]]]  # noisy shoppers, scale per table and key
    epsilon: float  # spent, as OpenDP accounts it


def noisy_counts(exact: dict[str, dict[str, int]], params: PeriodParameters,
                 pseudonyms: int = 1) -> PeriodRelease:
    """Every table's counts with noise; the budget spent in all. ``pseudonyms``: how
    many pseudonyms one person may have in the period (2 across New Year)."""
    out: dict[str, dict[str, tuple[int, float]]] = {}
    spent = 0.0
    for table, table_cells in exact.items():
        keys = list(table_cells)
        sensitivity = SENSITIVITY[table] * pseudonyms
        scale = params.scale(sensitivity)
        if not keys:  # a scheme with one sector group has no pairs: nothing to spend
            out[table] = {}
            continue
        values, eps = release.noisy([table_cells[k] for k in keys], sensitivity, scale)
        spent += eps
        out[table] = {k: (v, scale) for k, v in zip(keys, values, strict=True)}
    return PeriodRelease(out, spent)


# -- writing a period once ----------------------------------------------------------------------


def release_period(session: Session, scheme: Scheme, kind: str, start: date,
                   keys: dict[str, list[str]] | None = None) -> int | None:
    """Release one closed period's cells; None (and nothing written) when it was
    released already, by an earlier run or a concurrent one."""
    if session.get(ReleasedPeriod, (scheme.id, kind, start)) is not None:
        return None
    period = period_of(kind, start)
    keys = keys if keys is not None else table_keys(session, scheme)
    counts = exact_counts(activities(session, scheme.id, kind, start), keys)
    result = noisy_counts(counts, parameters(scheme),
                          pseudonyms=period.end.year - period.start.year + 1)
    rows = [
        {"scheme_id": scheme.id, "kind": kind, "start": start, "table": table, "key": key,
         "shoppers": value, "scale": scale}
        for table, table_cells in result.cells.items()
        for key, (value, scale) in table_cells.items()
    ]
    try:
        # The period's key first: of two releases of one period, the second fails
        # here (on PostgreSQL it waits for the first to commit) and writes no cell.
        with session.begin_nested():
            session.add(ReleasedPeriod(scheme_id=scheme.id, kind=kind, start=start,
                                       end=period.end, epsilon=result.epsilon,
                                       cells=len(rows)))
            session.flush()
    except sa.exc.IntegrityError:
        return None
    if rows:
        session.execute(sa.insert(ReleasedPeriodCell), rows)
    return len(rows)


def closed_periods(session: Session, scheme: Scheme, now: datetime) -> list[tuple[str, date]]:
    """The periods to release, as (kind, start): every week, month, quarter and year
    from the one of the scheme's first sale on that closed at least ``GRACE`` ago
    (local time) and is not released yet."""
    last_closed = ((now.astimezone(ZoneInfo(scheme.timezone)) - release.GRACE).date()
                   - timedelta(days=1))
    first_sale = session.scalar(sa.select(sa.func.min(PurchaseEvent.local_date))
                                .where(PurchaseEvent.scheme_id == scheme.id))
    if first_sale is None:
        return []
    released = {(kind, start) for kind, start in session.execute(
        sa.select(ReleasedPeriod.kind, ReleasedPeriod.start)
        .where(ReleasedPeriod.scheme_id == scheme.id))}
    out = []
    for kind in KINDS:
        start = first_of(kind, first_sale)
        while (period := period_of(kind, start)).end <= last_closed:
            if (kind, start) not in released:
                out.append((kind, start))
            start = period.end + timedelta(days=1)
    return out


@dataclass(frozen=True)
class PeriodReleaseResult:
    periods: int  # released by this call
    cells: int
    already: int  # found released (by a concurrent run) and left as they were


def release_periods(session: Session, scheme: Scheme, now: datetime,
                    progress: Progress | None = None) -> PeriodReleaseResult:
    """Release every closed period of a scheme not released yet."""
    keys = table_keys(session, scheme)
    return PeriodReleaseResult(*release.release_each(
        closed_periods(session, scheme, now),
        lambda period: release_period(session, scheme, period[0], period[1], keys), progress,
    ))


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A released count of shoppers with the 95% margin of its noise."""

    shoppers: int
    margin: int


def released(session: Session, scheme_id: int,
             period: Period) -> dict[str, dict[str, Figure]] | None:
    """The released tables of a whole week, month, quarter or year; None when the
    period is none of those or is not released (yet)."""
    found = kind_of(period)
    if found is None:
        return None
    kind, start = found
    if session.get(ReleasedPeriod, (scheme_id, kind, start)) is None:
        return None
    out: dict[str, dict[str, Figure]] = {table: {} for table in PERIOD_TABLES}
    for table, key, shoppers, scale in session.execute(
        sa.select(ReleasedPeriodCell.table, ReleasedPeriodCell.key,
                  ReleasedPeriodCell.shoppers, ReleasedPeriodCell.scale)
        .where(ReleasedPeriodCell.scheme_id == scheme_id, ReleasedPeriodCell.kind == kind,
               ReleasedPeriodCell.start == start)
    ):
        out.setdefault(table, {})[key] = Figure(int(shoppers),
                                                release.margin(0.0, 1, float(scale)))
    return out


# -- the budget, for the privacy page ----------------------------------------------------------


@dataclass(frozen=True)
class PeriodBudget:
    year: int
    periods_released: int
    epsilon_spent: float  # the sum over the periods released that start in the year
    epsilon_year: float  # a whole year's periods at today's parameter


def periods_in_year(year: int) -> int:
    """The weeks (by their Monday), months, quarters and the year that start in a year."""
    first_monday = date(year, 1, 1) + timedelta(days=(7 - date(year, 1, 1).weekday()) % 7)
    weeks = ((date(year, 12, 31) - first_monday).days // 7) + 1
    return weeks + 12 + 4 + 1


def budget(session: Session, scheme: Scheme, year: int) -> PeriodBudget:
    """What the periods released that start in the year spent, and a whole year at
    today's parameter."""
    count, spent = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(ReleasedPeriod.epsilon), 0.0))
        .where(ReleasedPeriod.scheme_id == scheme.id,
               ReleasedPeriod.start >= date(year, 1, 1),
               ReleasedPeriod.start <= date(year, 12, 31))
    ).one()
    return PeriodBudget(year, int(count), float(spent),
                        parameters(scheme).epsilon_per_period * periods_in_year(year))
