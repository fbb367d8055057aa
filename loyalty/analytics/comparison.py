"""Schemes compared per inhabitant: only those that opted in, only whole-scheme totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import PurchaseEvent, Scheme

# Like every report that is not about one shop: a total of fewer than three
# shops would describe a shop, and one of fewer than k shoppers a person.
MIN_SHOPS = 3


@dataclass(frozen=True)
class SchemeFigures:
    scheme_id: int
    name: str
    inhabitants: int
    # None when the scheme's figures are hidden (too few shops or shoppers).
    active_shops: int | None
    purchases: int | None
    spending_cents: int | None
    points_issued: int | None

    @property
    def suppressed(self) -> bool:
        return self.purchases is None

    def per_1000(self, value: int | None) -> float | None:
        return None if value is None else round(1000 * value / self.inhabitants, 1)

    def cents_per_inhabitant(self, value: int | None) -> int | None:
        return None if value is None else round(value / self.inhabitants)


def compared_schemes(session: Session) -> list[Scheme]:
    """Schemes that share their figures: opted in, with a number of inhabitants."""
    return list(
        session.scalars(
            sa.select(Scheme)
            .where(Scheme.compare_opt_in.is_(True), Scheme.inhabitants.is_not(None))
            .order_by(Scheme.name)
        )
    )


def compare(session: Session, first: date, last: date) -> list[SchemeFigures]:
    """Totals of each opted-in scheme for the local days ``first`` to ``last``."""
    chosen = compared_schemes(session)
    if not chosen:
        return []
    totals = {
        row.scheme_id: row
        for row in session.execute(
            sa.select(
                PurchaseEvent.scheme_id,
                sa.func.count(sa.distinct(PurchaseEvent.merchant_id)).label("shops"),
                sa.func.count(sa.distinct(PurchaseEvent.shopper_key)).label("shoppers"),
                sa.func.count().label("purchases"),
                sa.func.sum(PurchaseEvent.amount_cents).label("spending"),
                sa.func.sum(PurchaseEvent.points).label("points"),
            )
            .where(
                PurchaseEvent.scheme_id.in_([s.id for s in chosen]),
                PurchaseEvent.local_date >= first,
                PurchaseEvent.local_date <= last,
            )
            .group_by(PurchaseEvent.scheme_id)
        )
    }
    figures = []
    for scheme in chosen:
        assert scheme.inhabitants is not None  # compared_schemes() asks for it
        row = totals.get(scheme.id)
        shown = row is not None and row.shops >= MIN_SHOPS and row.shoppers >= scheme.k_anonymity
        figures.append(
            SchemeFigures(
                scheme_id=scheme.id,
                name=scheme.name,
                inhabitants=scheme.inhabitants,
                active_shops=int(row.shops) if shown and row else None,
                purchases=int(row.purchases) if shown and row else None,
                spending_cents=int(row.spending or 0) if shown and row else None,
                points_issued=int(row.points or 0) if shown and row else None,
            )
        )
    return figures
