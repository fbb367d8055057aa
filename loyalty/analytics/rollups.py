"""Rollups: the purchase events folded into small tables that reports read.

``refresh()`` folds the events a scheme's rollups have not seen yet, and is
safe to run twice or concurrently:

- the watermark (the last event id folded in) lives in ``RollupState``; a
  refresh first claims its turn with ``UPDATE ... SET version = version + 1
  WHERE version = :seen``. On PostgreSQL a second refresh blocks on that row
  until the first commits, then matches nothing and folds nothing; on SQLite
  writers are serialised anyway. Rollups and watermark move in one
  transaction, so a failed refresh leaves both as they were.
- event ids are handed out before commit, so on PostgreSQL a sale with a
  lower id can become visible after a higher one. Ids below the new
  watermark that are not in the table yet are kept as gaps and looked for
  again by the next refreshes (for an hour; a rolled-back sale never comes).

See loyalty.models.analytics for the tables and why distinct shoppers need
their own grain.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import areas, kinds
from loyalty.infra.db import utcnow
from loyalty.models import (
    PurchaseEvent,
    RollupAreaAge,
    RollupAreaAgeMonth,
    RollupShopDay,
    RollupShopHour,
    RollupShopHourMonth,
    RollupShopperMonth,
    RollupShopShopper,
    RollupState,
    Scheme,
    ShopperCount,
)

GAP_RETRY_SECONDS = 3600
BATCH = 20_000
NO_AGE = "unknown"
# The dimensions whose distinct shoppers per whole month, quarter and year are stored.
COUNTED_DIMENSIONS = (
    "all", "sector", "sector_group", "kind", "merchant", "weekday", "area", "age_band",
)
# A NACE-BEL group is the first three digits of a code: "47.24" is in group "47.2".
GROUP_CHARS = 4

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RefreshResult:
    events: int  # events folded in by this call
    last_event_id: int
    busy: bool = False  # another refresh held the turn: nothing was done


def month_start(day: date) -> date:
    return day.replace(day=1)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _dialect_insert(session: Session, table: Any) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _state(session: Session, scheme_id: int) -> RollupState:
    state = session.get(RollupState, scheme_id, populate_existing=True)
    if state is not None:
        return state
    # The first refresh of a scheme creates its row; a concurrent first refresh
    # may win that insert, which is fine: we read its row.
    try:
        with session.begin_nested():
            session.add(RollupState(scheme_id=scheme_id, last_event_id=0, version=0, gaps=[],
                                    events_folded=0))
    except sa.exc.IntegrityError:
        pass
    return session.get_one(RollupState, scheme_id, populate_existing=True)


def pending(session: Session, scheme: Scheme) -> bool:
    """True when events exist that the rollups have not folded in (one cheap query each)."""
    state = session.get(RollupState, scheme.id)
    watermark = state.last_event_id if state else 0
    if state is not None and state.gaps:
        return True
    newer = session.scalar(
        sa.select(PurchaseEvent.id)
        .where(PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.id > watermark)
        .limit(1)
    )
    return newer is not None


def refresh_if_pending(session: Session, scheme: Scheme) -> RefreshResult | None:
    """Fold new events before a report is read; nearly free when nothing changed."""
    if not pending(session, scheme):
        return None
    return refresh(session, scheme)


def refresh(
    session: Session,
    scheme: Scheme,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> RefreshResult:
    """Fold every event of ``scheme`` not yet in its rollups; flushes, never commits."""
    state = _state(session, scheme.id)
    seen_version, watermark = state.version, state.last_event_id
    gaps: list[list[int]] = [list(g) for g in (state.gaps or [])]
    top = session.scalar(
        sa.select(sa.func.max(PurchaseEvent.id)).where(PurchaseEvent.scheme_id == scheme.id)
    )
    top = max(int(top or 0), watermark)
    if top == watermark and not gaps:
        return RefreshResult(0, watermark)

    claimed = session.execute(
        sa.update(RollupState)
        .where(RollupState.scheme_id == scheme.id, RollupState.version == seen_version)
        .values(version=RollupState.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        return RefreshResult(0, watermark, busy=True)

    folded = 0
    touched_months: set[date] = set()
    total = session.scalar(
        sa.select(sa.func.count()).where(
            PurchaseEvent.scheme_id == scheme.id,
            PurchaseEvent.id > watermark,
            PurchaseEvent.id <= top,
        )
    ) or 0
    villages = [str(v) for v in (scheme.villages or [])]

    # Gaps first: sales that committed late, below the old watermark.
    gap_ids = [g[0] for g in gaps]
    if gap_ids:
        found = _events(session, scheme.id, PurchaseEvent.id.in_(gap_ids))
        folded += _fold(session, scheme.id, found, villages, touched_months)
        present = set(
            session.scalars(sa.select(PurchaseEvent.id).where(PurchaseEvent.id.in_(gap_ids)))
        )
        now_s = int(time.time())
        gaps = [g for g in gaps if g[0] not in present and now_s - g[1] < GAP_RETRY_SECONDS]

    low = watermark
    while low < top:
        high = min(top, low + batch)
        rows = _events(
            session, scheme.id, PurchaseEvent.id > low, PurchaseEvent.id <= high
        )
        folded += _fold(session, scheme.id, rows, villages, touched_months)
        if progress:
            progress(folded, int(total))
        low = high
    gaps.extend([gid, int(time.time())] for gid in _missing_ids(session, watermark, top))

    _recount(session, scheme.id, touched_months)
    session.execute(
        sa.update(RollupState)
        .where(RollupState.scheme_id == scheme.id)
        .values(
            last_event_id=top,
            gaps=gaps,
            events_folded=RollupState.events_folded + folded,
            refreshed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return RefreshResult(folded, top)


def _events(session: Session, scheme_id: int, *where: Any) -> list[Any]:
    return list(
        session.execute(
            sa.select(
                PurchaseEvent.id,
                PurchaseEvent.merchant_id,
                PurchaseEvent.sector,
                PurchaseEvent.amount_cents,
                PurchaseEvent.points,
                PurchaseEvent.local_date,
                PurchaseEvent.local_hour,
                PurchaseEvent.weekday,
                PurchaseEvent.shopper_key,
                PurchaseEvent.home_postcode,
                PurchaseEvent.home_village,
                PurchaseEvent.age_band,
            )
            .where(PurchaseEvent.scheme_id == scheme_id, *where)
            .order_by(PurchaseEvent.id)
        )
    )


def _missing_ids(session: Session, low: int, high: int) -> list[int]:
    """Ids in (low, high] that no scheme's event has (yet)."""
    if high <= low:
        return []
    visible = session.scalar(
        sa.select(sa.func.count()).where(PurchaseEvent.id > low, PurchaseEvent.id <= high)
    )
    if visible == high - low:
        return []
    present = set(
        session.scalars(
            sa.select(PurchaseEvent.id).where(PurchaseEvent.id > low, PurchaseEvent.id <= high)
        )
    )
    return [i for i in range(low + 1, high + 1) if i not in present]


def _fold(
    session: Session,
    scheme_id: int,
    events: Iterable[Any],
    villages: list[str],
    touched_months: set[date],
) -> int:
    shop_hour: dict[tuple[Any, ...], list[Any]] = {}
    shop_shopper: dict[tuple[Any, ...], list[Any]] = {}
    area_age: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    shopper_month: dict[tuple[Any, ...], list[Any]] = {}
    n = 0
    for e in events:
        n += 1
        day = e.local_date
        month = month_start(day)
        touched_months.add(month)
        area = areas.home_area(e.home_postcode, e.home_village, villages)
        age = e.age_band or NO_AGE

        row = shop_hour.setdefault(
            (day, e.merchant_id, e.local_hour), [e.sector, e.weekday, 0, 0, 0]
        )
        row[2] += 1
        row[3] += e.amount_cents
        row[4] += e.points

        srow = shop_shopper.setdefault(
            (day, e.merchant_id, e.shopper_key), [month, e.sector, e.weekday, area, age, 0, 0]
        )
        srow[3], srow[4] = area, age  # the day's last sale tells the home area
        srow[5] += 1
        srow[6] += e.amount_cents

        arow = area_age[(day, area, age, e.merchant_id)]
        arow[0] += 1
        arow[1] += e.amount_cents

        mrow = shopper_month.setdefault((month, e.shopper_key), [0, 0, day, day])
        mrow[0] += 1
        mrow[1] += e.amount_cents
        mrow[2] = min(mrow[2], day)
        mrow[3] = max(mrow[3], day)
    if not n:
        return 0

    def upsert(model: Any, keys: list[str], rows: list[dict[str, Any]], add: list[str],
               replace: tuple[str, ...] = (), least: tuple[str, ...] = (),
               greatest: tuple[str, ...] = ()) -> None:
        table = model.__table__
        for start in range(0, len(rows), 5000):
            stmt = _dialect_insert(session, table)
            values: dict[str, Any] = {c: table.c[c] + stmt.excluded[c] for c in add}
            values.update({c: stmt.excluded[c] for c in replace})
            values.update(
                {c: sa.case((table.c[c] <= stmt.excluded[c], table.c[c]),
                            else_=stmt.excluded[c]) for c in least}
            )
            values.update(
                {c: sa.case((table.c[c] >= stmt.excluded[c], table.c[c]),
                            else_=stmt.excluded[c]) for c in greatest}
            )
            session.execute(
                stmt.on_conflict_do_update(index_elements=keys, set_=values),
                rows[start : start + 5000],
            )

    upsert(
        RollupShopHour,
        ["scheme_id", "day", "merchant_id", "hour"],
        [
            {"scheme_id": scheme_id, "day": d, "merchant_id": m, "hour": h, "sector": r[0],
             "weekday": r[1], "purchases": r[2], "amount_cents": r[3], "points": r[4]}
            for (d, m, h), r in shop_hour.items()
        ],
        ["purchases", "amount_cents", "points"],
    )
    hour_month: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (d, m, h), r in shop_hour.items():
        month_row = hour_month[(month_start(d), m, r[1], h)]
        month_row[0] += r[2]
        month_row[1] += r[3]
        month_row[2] += r[4]
    upsert(
        RollupShopHourMonth,
        ["scheme_id", "month", "merchant_id", "weekday", "hour"],
        [
            {"scheme_id": scheme_id, "month": mo, "merchant_id": m, "weekday": w, "hour": h,
             "purchases": r[0], "amount_cents": r[1], "points": r[2]}
            for (mo, m, w, h), r in hour_month.items()
        ],
        ["purchases", "amount_cents", "points"],
    )
    shop_day: dict[tuple[Any, ...], list[Any]] = {}
    for (d, m, _h), r in shop_hour.items():
        day_row = shop_day.setdefault((d, m), [r[0], r[1], 0, 0, 0])
        day_row[2] += r[2]
        day_row[3] += r[3]
        day_row[4] += r[4]
    upsert(
        RollupShopDay,
        ["scheme_id", "day", "merchant_id"],
        [
            {"scheme_id": scheme_id, "day": d, "merchant_id": m, "sector": r[0],
             "weekday": r[1], "purchases": r[2], "amount_cents": r[3], "points": r[4]}
            for (d, m), r in shop_day.items()
        ],
        ["purchases", "amount_cents", "points"],
    )
    upsert(
        RollupShopShopper,
        ["scheme_id", "day", "merchant_id", "shopper_key"],
        [
            {"scheme_id": scheme_id, "day": d, "merchant_id": m, "shopper_key": k,
             "month": r[0], "sector": r[1], "weekday": r[2], "area": r[3], "age_band": r[4],
             "purchases": r[5], "amount_cents": r[6]}
            for (d, m, k), r in shop_shopper.items()
        ],
        ["purchases", "amount_cents"],
        replace=("area", "age_band"),
    )
    upsert(
        RollupAreaAge,
        ["scheme_id", "day", "area", "age_band", "merchant_id"],
        [
            {"scheme_id": scheme_id, "day": d, "area": a, "age_band": g, "merchant_id": m,
             "purchases": r[0], "amount_cents": r[1]}
            for (d, a, g, m), r in area_age.items()
        ],
        ["purchases", "amount_cents"],
    )
    area_age_month: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for (d, a, g, m), r in area_age.items():
        month_row = area_age_month[(month_start(d), a, g, m)]
        month_row[0] += r[0]
        month_row[1] += r[1]
    upsert(
        RollupAreaAgeMonth,
        ["scheme_id", "month", "area", "age_band", "merchant_id"],
        [
            {"scheme_id": scheme_id, "month": mo, "area": a, "age_band": g, "merchant_id": m,
             "purchases": r[0], "amount_cents": r[1]}
            for (mo, a, g, m), r in area_age_month.items()
        ],
        ["purchases", "amount_cents"],
    )
    upsert(
        RollupShopperMonth,
        ["scheme_id", "month", "shopper_key"],
        [
            {"scheme_id": scheme_id, "month": mo, "shopper_key": k, "purchases": r[0],
             "amount_cents": r[1], "first_day": r[2], "last_day": r[3]}
            for (mo, k), r in shopper_month.items()
        ],
        ["purchases", "amount_cents"],
        least=("first_day",),
        greatest=("last_day",),
    )
    return n


def dimension_column(dimension: str) -> Any:
    """The column of RollupShopShopper that a counted dimension groups by."""
    return {
        "all": sa.literal("all"),
        "sector": RollupShopShopper.sector,
        "sector_group": sa.func.substr(RollupShopShopper.sector, 1, GROUP_CHARS),
        "kind": kinds.kind_expression(RollupShopShopper.sector),
        "merchant": sa.cast(RollupShopShopper.merchant_id, sa.String),
        "weekday": sa.cast(RollupShopShopper.weekday, sa.String),
        "area": RollupShopShopper.area,
        "age_band": RollupShopShopper.age_band,
    }[dimension]


def _recount(session: Session, scheme_id: int, months: set[date]) -> None:
    """Store the distinct shoppers of every month, quarter and year that new events touched."""
    periods: set[tuple[str, date, tuple[date, ...]]] = set()
    for m in months:
        periods.add(("month", m, (m,)))
        q = quarter_start(m)
        periods.add(("quarter", q, tuple(date(q.year, q.month + i, 1) for i in range(3))))
        periods.add(("year", date(m.year, 1, 1), tuple(date(m.year, i, 1) for i in range(1, 13))))
    # Distinct shoppers per day of the touched months: the per-day reports read them.
    if months:
        session.execute(
            sa.delete(ShopperCount).where(
                ShopperCount.scheme_id == scheme_id,
                ShopperCount.grain == "day",
                sa.or_(*(
                    sa.and_(ShopperCount.period_start >= m,
                            ShopperCount.period_start < (m + timedelta(days=32)).replace(day=1))
                    for m in months
                )),
            )
        )
        per_day = session.execute(
            sa.select(
                RollupShopShopper.day,
                sa.func.count(sa.distinct(RollupShopShopper.shopper_key)),
            )
            .where(RollupShopShopper.scheme_id == scheme_id,
                   RollupShopShopper.month.in_(sorted(months)))
            .group_by(RollupShopShopper.day)
        ).all()
        if per_day:
            session.execute(
                sa.insert(ShopperCount),
                [{"scheme_id": scheme_id, "grain": "day", "period_start": day,
                  "dimension": "all", "key": "all", "shoppers": int(n)} for day, n in per_day],
            )
    for grain, start, in_months in sorted(periods):
        session.execute(
            sa.delete(ShopperCount).where(
                ShopperCount.scheme_id == scheme_id,
                ShopperCount.grain == grain,
                ShopperCount.period_start == start,
            )
        )
        selects = []
        for dim in COUNTED_DIMENSIONS:
            column = dimension_column(dim)
            query = sa.select(
                sa.literal(dim).label("dimension"),
                column.label("key"),
                sa.func.count(sa.distinct(RollupShopShopper.shopper_key)).label("shoppers"),
            ).where(
                RollupShopShopper.scheme_id == scheme_id,
                RollupShopShopper.month.in_(in_months),
            )
            if dim != "all":
                query = query.group_by(column)
            selects.append(query)
        rows = session.execute(sa.union_all(*selects)).all()
        rows = [r for r in rows if r.shoppers]
        if rows:
            session.execute(
                sa.insert(ShopperCount),
                [
                    {"scheme_id": scheme_id, "grain": grain, "period_start": start,
                     "dimension": r.dimension, "key": str(r.key), "shoppers": int(r.shoppers)}
                    for r in rows
                ],
            )
