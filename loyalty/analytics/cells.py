"""Report cells: the released ones (sums of noisy released cells, analytics.release)
and the exact ones from the rollups (sums from the additive tables, distinct
shoppers from the stored counts or the per-shopper grain), which only reports
restricted to whole closed calendar periods show.

The cells come out unsuppressed; reports pass them through analytics.privacy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from loyalty.analytics import kinds, release
from loyalty.analytics.periods import Period
from loyalty.analytics.privacy import Cell
from loyalty.analytics.rollups import (
    COUNTED_DIMENSIONS,
    GROUP_CHARS,
    NO_AGE,
    dimension_column,
)
from loyalty.models import (
    PurchaseEvent,
    RollupAreaAge,
    RollupAreaAgeMonth,
    RollupShopDay,
    RollupShopHour,
    RollupShopHourMonth,
    RollupShopShopper,
    Scheme,
    ShopperCount,
)

# Dimensions read from the day x shop table, and their key expressions.
SHOP_DAY_DIMENSIONS: dict[str, Callable[[], list[Any]]] = {
    "all": lambda: [sa.literal("all")],
    "sector": lambda: [RollupShopDay.sector],
    "sector_group": lambda: [sa.func.substr(RollupShopDay.sector, 1, GROUP_CHARS)],
    "kind": lambda: [kinds.kind_expression(RollupShopDay.sector)],
    "merchant": lambda: [RollupShopDay.merchant_id],
    "weekday": lambda: [RollupShopDay.weekday],
    "day": lambda: [RollupShopDay.day],
    "month": lambda: [RollupShopDay.day],  # folded to months in Python
}
# Only the hours need the day x shop x hour table.
SHOP_HOUR_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "hour": ("hour",),
    "weekday_hour": ("weekday", "hour"),
}
AREA_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "area": ("area",),
    "age_band": ("age_band",),
}


def _key(dimension: str, values: tuple[Any, ...]) -> str:
    if dimension == "weekday_hour":
        return f"{values[0]}-{values[1]}"
    if dimension == "month":
        return values[0].isoformat()[:7]
    value = values[0]
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def sums(
    session: Session, scheme_id: int, dimension: str, period: Period
) -> dict[str, tuple[int, int, int, dict[int, int]]]:
    """Per key: purchases, amount in cents, points, and amount per shop."""
    if dimension in AREA_DIMENSIONS:
        names = AREA_DIMENSIONS[dimension]
        return _folded(dimension, len(names), _by_months_and_days(
            session, scheme_id, period, RollupAreaAge, RollupAreaAgeMonth, names, points=False))
    if dimension in SHOP_HOUR_DIMENSIONS:
        names = SHOP_HOUR_DIMENSIONS[dimension]
        return _folded(dimension, len(names), _by_months_and_days(
            session, scheme_id, period, RollupShopHour, RollupShopHourMonth, names, points=True))
    columns = SHOP_DAY_DIMENSIONS[dimension]()
    query = (
        sa.select(
            *columns,
            RollupShopDay.merchant_id,
            sa.func.sum(RollupShopDay.purchases),
            sa.func.sum(RollupShopDay.amount_cents),
            sa.func.sum(RollupShopDay.points),
        )
        .where(RollupShopDay.scheme_id == scheme_id, RollupShopDay.day >= period.start,
               RollupShopDay.day <= period.end)
        .group_by(*columns, RollupShopDay.merchant_id)
    )
    return _folded(dimension, len(columns), [session.execute(query)])


def _by_months_and_days(
    session: Session, scheme_id: int, period: Period, daily: Any, monthly: Any,
    names: tuple[str, ...], *, points: bool,
) -> list[Any]:
    """Per key and shop: purchases, amount and points over the period, as result
    sets to add up: its whole calendar months from the monthly rollup, only its
    broken months' days from the daily one (over a year that reads a few percent
    of the daily rows)."""

    def grouped(model: Any, column: Any, first: date, before: date) -> Any:
        keys = [getattr(model, name) for name in names]
        return session.execute(
            sa.select(*keys, model.merchant_id, sa.func.sum(model.purchases),
                      sa.func.sum(model.amount_cents),
                      sa.func.sum(model.points) if points else sa.literal(0))
            .where(model.scheme_id == scheme_id, column >= first, column < before)
            .group_by(*keys, model.merchant_id)
        )

    end = period.end + timedelta(days=1)  # the day after, so ranges are half-open
    first_whole = period.start if period.start.day == 1 else _next_month(period.start)
    after_whole = end if end.day == 1 else period.end.replace(day=1)
    if first_whole >= after_whole:  # no whole month inside
        return [grouped(daily, daily.day, period.start, end)]
    parts = [grouped(monthly, monthly.month, first_whole, after_whole)]
    if period.start < first_whole:
        parts.append(grouped(daily, daily.day, period.start, first_whole))
    if after_whole < end:
        parts.append(grouped(daily, daily.day, after_whole, end))
    return parts


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _folded(
    dimension: str, width: int, results: Iterable[Iterable[Any]]
) -> dict[str, tuple[int, int, int, dict[int, int]]]:
    out: dict[str, list[Any]] = {}
    for result in results:
        for row in result:
            key = _key(dimension, tuple(row[:width]))
            merchant, purchases, amount, pts = row[width:]
            entry = out.setdefault(key, [0, 0, 0, defaultdict(int)])
            entry[0] += int(purchases)
            entry[1] += int(amount)
            entry[2] += int(pts or 0)
            entry[3][int(merchant)] += int(amount)
    return {k: (v[0], v[1], v[2], dict(v[3])) for k, v in out.items()}


def shoppers(session: Session, scheme_id: int, dimension: str, period: Period) -> dict[str, int]:
    """Distinct shoppers per key in the period.

    Whole months, quarters and years read the stored counts; other periods
    count distinct pseudonyms in the per (day, shop, shopper) rollup. Hours
    are not kept at that grain, so hour cells count on the events themselves.
    """
    grain = period.grain()
    if grain is None and dimension in COUNTED_DIMENSIONS:
        grain = _grain_so_far(session, scheme_id, period)
    if grain is not None and dimension in COUNTED_DIMENSIONS:
        return {
            key: int(n)
            for key, n in session.execute(
                sa.select(ShopperCount.key, ShopperCount.shoppers).where(
                    ShopperCount.scheme_id == scheme_id,
                    ShopperCount.grain == grain[0],
                    ShopperCount.period_start == grain[1],
                    ShopperCount.dimension == dimension,
                )
            )
        }
    if dimension == "day":
        return {
            day.isoformat(): int(n)
            for day, n in session.execute(
                sa.select(ShopperCount.period_start, ShopperCount.shoppers).where(
                    ShopperCount.scheme_id == scheme_id,
                    ShopperCount.grain == "day",
                    ShopperCount.dimension == "all",
                    ShopperCount.period_start >= period.start,
                    ShopperCount.period_start <= period.end,
                )
            )
        }
    if dimension == "month":
        out: dict[str, int] = {}
        for month in period.months():
            whole = Period(month, month + relativedelta(months=1) - timedelta(days=1))
            inside = Period(max(month, period.start), min(whole.end, period.end))
            out.update(
                (f"{month.isoformat()[:7]}", n)
                for n in shoppers(session, scheme_id, "all", inside).values()
            )
        return out
    if dimension in COUNTED_DIMENSIONS:
        columns: list[Any] = [dimension_column(dimension)]
        query = sa.select(
            *columns, sa.func.count(sa.distinct(RollupShopShopper.shopper_key))
        ).where(
            RollupShopShopper.scheme_id == scheme_id,
            RollupShopShopper.day >= period.start,
            RollupShopShopper.day <= period.end,
        )
        if dimension != "all":
            query = query.group_by(*columns)
        return {_key(dimension, (row[0],)): int(row[1]) for row in session.execute(query)}
    event_columns = {
        "hour": [PurchaseEvent.local_hour],
        "weekday_hour": [PurchaseEvent.weekday, PurchaseEvent.local_hour],
    }[dimension]
    query = (
        sa.select(*event_columns, sa.func.count(sa.distinct(PurchaseEvent.shopper_key)))
        .where(
            PurchaseEvent.scheme_id == scheme_id,
            PurchaseEvent.local_date >= period.start,
            PurchaseEvent.local_date <= period.end,
        )
        .group_by(*event_columns)
    )
    width = len(event_columns)
    return {_key(dimension, tuple(row[:width])): int(row[width]) for row in session.execute(query)}


def _grain_so_far(session: Session, scheme_id: int, period: Period) -> tuple[str, Any] | None:
    """A month, quarter or year "to date" counts as the whole one when no sale lies
    after the period's end within it (the usual case: it ends today)."""
    found = period.grain_to_date()
    if found is None:
        return None
    grain, start, last = found
    later = session.scalar(
        sa.select(RollupShopDay.day).where(
            RollupShopDay.scheme_id == scheme_id,
            RollupShopDay.day > period.end,
            RollupShopDay.day <= last,
        ).limit(1)
    )
    return None if later is not None else (grain, start)


def cells(
    session: Session,
    scheme_id: int,
    dimension: str,
    period: Period,
    labels: Callable[[str], str | None] = lambda _k: None,
    *,
    exclude: tuple[str, ...] = (),
) -> list[Cell]:
    """Unsuppressed cells of one dimension over a period, ordered by key."""
    figures = sums(session, scheme_id, dimension, period)
    counts = shoppers(session, scheme_id, dimension, period)
    out = []
    for key in sorted(figures, key=_sort_key):
        if key in exclude:
            continue
        purchases, amount, pts, per_shop = figures[key]
        out.append(
            Cell(
                key=key,
                label=labels(key),
                purchases=purchases,
                amount_cents=amount,
                shoppers=counts.get(key, 0),
                shops=len(per_shop),
                top_shop_amount_cents=max(per_shop.values(), default=0),
                points=pts if dimension not in AREA_DIMENSIONS else None,
            )
        )
    return out


def released_cells(
    session: Session,
    scheme: Scheme,
    dimension: str,
    period: Period,
    labels: Callable[[str], str | None] = lambda _k: None,
    *,
    exclude: tuple[str, ...] = (),
) -> list[Cell]:
    """Unsuppressed cells of one dimension over a period as sums of released cells
    (days not released yet are simply not in them), ordered by key.

    The figures are the released ones only, so the difference of any two answers
    is noise on released cells. Rule 2 (three shops, no dominant shop) needs to
    know how many shops a cell holds and the largest one's share: those come from
    the exact rollups and decide only whether the noisy figure is shown."""
    figures = release.released_by(session, scheme.id, dimension, period)
    if not figures:
        return []
    shops = _shops_per_key(session, scheme, dimension, period, set(figures))
    out = []
    for key in sorted(figures, key=_sort_key):
        if key in exclude:
            continue
        figure = figures[key]
        per_shop = shops.get(key, {})
        exact = sum(per_shop.values())
        top = max(per_shop.values(), default=0)
        out.append(
            Cell(
                key=key,
                label=labels(key),
                purchases=figure.purchases,
                amount_cents=figure.amount_cents,
                shoppers=None,  # distinct shoppers are not released
                shops=len(per_shop),
                top_shop_amount_cents=top,
                released=True,
                purchases_margin=figure.purchases_margin,
                amount_margin_cents=figure.amount_margin_cents,
                top_share=top / exact if exact > 0 else 0.0,
            )
        )
    return out


def shop_amounts(
    session: Session, scheme_id: int, dimension: str, period: Period
) -> dict[str, dict[int, int]]:
    """Per key, each shop's exact amount in the period, from the rollups: read
    only to decide the three-shop and dominance rules, never shown."""
    return {key: per_shop for key, (_p, _a, _pts, per_shop)
            in sums(session, scheme_id, dimension, period).items()}


def _shops_per_key(session: Session, scheme: Scheme, dimension: str, period: Period,
                   keys: set[str]) -> dict[str, dict[int, int]]:
    """Per released key: the exact amount per shop (for rule 2 only)."""
    out: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for key, per_shop in shop_amounts(session, scheme.id, dimension, period).items():
        # Homes the released area table has no cell for are in its "other" cell.
        target = key if key in keys or dimension != "area" else release.OTHER_AREA
        for shop, amount in per_shop.items():
            out[target][shop] += amount
    return out


def _sort_key(key: str) -> tuple[int, Any]:
    parts = key.split("-")
    if all(p.isdigit() for p in parts):
        return (0, tuple(int(p) for p in parts))
    return (1, key)


__all__ = ["NO_AGE", "cells", "released_cells", "shop_amounts", "shoppers", "sums"]
