"""The contract's ``GET /reports/spending``: spending grouped by sector, shop, home
area, hour or weekday.

Every grouping, the shop's too, is a sum of released cells (analytics.release)
for the requested dates, so two answers differ only by noise on released cells;
days not released yet are not in it. Per shop, the municipality sees the noisy
purchases and amount of the released ``merchant`` cells, with their margins and
no distinct shoppers (a shop's exact figures are in its own portal only).

scripts/bench_reports.py keeps ``events_spending``, the raw GROUP BY on the
purchase events, as its baseline.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import areas, cells
from loyalty.analytics.periods import Period
from loyalty.analytics.privacy import Cell, suppress
from loyalty.models import Merchant, PurchaseEvent, Scheme

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
SPENDING_DEFINITION = (
    "Sales that earned points, by the shop's local date: number of purchases and amount in "
    "euro cents, as sums of the released daily figures (random noise added for privacy; "
    "margin: half-width of the 95% interval of that noise), up to the last released day. "
    "by=postcode groups by home area (the scheme's villages, the municipalities of its "
    "province, other, unknown). Cells with fewer than k purchases after noise, fewer than "
    "3 shops or one shop over half of the amount are hidden. by=merchant gives each shop's "
    "released figures for any dates (shoppers null, as in every released row); a shop with "
    "fewer than k purchases after noise is hidden."
)
# The released dimension of each grouping.
RELEASED = {"sector": "sector", "postcode": "area", "hour": "hour", "weekday": "weekday",
            "merchant": "merchant"}
# Released reads without a date reach from the first released day to the last.
EARLIEST, LATEST = date(2000, 1, 1), date(9999, 12, 31)


def spending(
    session: Session, scheme: Scheme, by: str, start: date | None, end: date | None,
) -> list[Cell]:
    """Spending grouped by sector, merchant, postcode (home area), hour or weekday,
    as sums of released cells over any dates, privacy rules applied (per shop: the k
    rule on the noisy purchases only, as a shop is its own cell)."""
    labels: dict[str, str] = {}
    if by == "weekday":
        labels = {str(i): name for i, name in enumerate(WEEKDAYS)}
    elif by == "merchant":
        labels = {
            str(mid): name
            for mid, name in session.execute(
                sa.select(Merchant.id, Merchant.name).where(Merchant.scheme_id == scheme.id))
        }
    period = Period(start or EARLIEST, end or LATEST)
    released = cells.released_cells(
        session, scheme, RELEASED[by], period,
        (lambda key: areas.area_label(key, "en")) if by == "postcode" else labels.get,
    )
    return suppress(released, scheme.k_anonymity, per_shop=by == "merchant")


def events_spending(
    session: Session, scheme: Scheme, by: str, start: date | None, end: date | None
) -> list[Cell]:
    """The raw GROUP BY on the purchase events, exact, with the rules per query (the
    benchmark's baseline; no page or API answer reads it)."""
    column = {
        "sector": PurchaseEvent.sector,
        "merchant": PurchaseEvent.merchant_id,
        "postcode": sa.func.coalesce(PurchaseEvent.home_postcode, "unknown"),
        "hour": PurchaseEvent.local_hour,
        "weekday": PurchaseEvent.weekday,
    }[by]
    filters = [PurchaseEvent.scheme_id == scheme.id]
    if start is not None:
        filters.append(PurchaseEvent.local_date >= start)
    if end is not None:
        filters.append(PurchaseEvent.local_date <= end)

    per_shop = (
        sa.select(
            column.label("key"),
            PurchaseEvent.merchant_id,
            sa.func.sum(PurchaseEvent.amount_cents).label("amount"),
        )
        .where(*filters)
        .group_by(column, PurchaseEvent.merchant_id)
        .subquery()
    )
    shop_stats = {
        str(key): (int(shops), int(top))
        for key, shops, top in session.execute(
            sa.select(per_shop.c.key, sa.func.count(), sa.func.max(per_shop.c.amount)).group_by(
                per_shop.c.key
            )
        )
    }
    rows: list[Any] = session.execute(
        sa.select(
            column.label("key"),
            sa.func.count(),
            sa.func.sum(PurchaseEvent.amount_cents),
            sa.func.count(sa.distinct(PurchaseEvent.shopper_key)),
        )
        .where(*filters)
        .group_by(column)
        .order_by(column)
    ).all()  # type: ignore[assignment]
    labels: dict[str, str] = {}
    if by == "merchant":
        labels = {
            str(mid): name
            for mid, name in session.execute(
                sa.select(Merchant.id, Merchant.name).where(Merchant.scheme_id == scheme.id)
            )
        }
    elif by == "weekday":
        labels = {str(i): name for i, name in enumerate(WEEKDAYS)}
    cells = [
        Cell(
            key=str(key),
            label=labels.get(str(key)),
            purchases=int(n),
            amount_cents=int(amount),
            shoppers=int(shoppers),
            shops=shop_stats[str(key)][0],
            top_shop_amount_cents=shop_stats[str(key)][1],
        )
        for key, n, amount, shoppers in rows
    ]
    return suppress(cells, scheme.k_anonymity, per_shop=by == "merchant")
