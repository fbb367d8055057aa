"""The raw spending query: GROUP BY on the purchase events themselves.

It serves the contract's ``GET /reports/spending`` (which can group by home
postcode, a field no rollup keeps) and is the baseline of
scripts/bench_reports.py. The dashboard's reports read the rollups instead:
see analytics.catalog.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics.privacy import Cell, suppress
from loyalty.models import Merchant, PurchaseEvent, Scheme

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
SPENDING_DEFINITION = (
    "Sales that earned points, by the shop's local date: number of purchases, amount in "
    "euro cents and distinct shoppers (pseudonyms of the year). Cells with fewer than k "
    "shoppers, fewer than 3 shops or one shop over half of the amount are hidden."
)


def spending(
    session: Session, scheme: Scheme, by: str, start: date | None, end: date | None
) -> list[Cell]:
    """Spending grouped by sector, merchant, postcode, hour or weekday."""
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
