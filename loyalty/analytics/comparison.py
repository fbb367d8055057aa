"""Schemes compared per inhabitant: only those that opted in, only whole-scheme totals.

Purchases and spending are sums of each scheme's released ``all`` cells
(analytics.release) up to the last day every compared scheme has released, with
their 95% margins; so two comparisons of nested periods differ only by noise.
The number of active shops (shops, not shoppers) is exact, for the three-shop
rule. Points issued are in no released table: they are given only for a whole
calendar month, quarter or year that has ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import release
from loyalty.analytics.periods import Period
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
    purchases_margin: int | None = None
    spending_margin_cents: int | None = None

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


@dataclass(frozen=True)
class Comparison:
    figures: list[SchemeFigures]
    released_until: date | None  # the figures reach up to this day (None: none released)


def reach(session: Session, chosen: list[Scheme], last: date) -> date | None:
    """The last day every compared scheme has released, at most ``last`` (a scheme
    that has released nothing yet has no figures and holds no one back)."""
    days = [d for s in chosen if (d := release.last_released_day(session, s.id)) is not None]
    return min(last, *days) if days else None


def compare(session: Session, first: date, last: date, today: date) -> Comparison:
    """Totals of each opted-in scheme for the local days ``first`` to ``last`` (released
    days only, up to the last one all of them have released)."""
    chosen = compared_schemes(session)
    if not chosen:
        return Comparison([], None)
    until = reach(session, chosen, last)
    period = Period(first, until) if until is not None and until >= first else None
    aligned = Period(first, last).grain() is not None and last < today
    released = {
        s.id: release.released_by(session, s.id, "all", period).get("all")
        for s in chosen
    } if period is not None else {}
    totals = {
        row.scheme_id: row
        for row in session.execute(
            sa.select(
                PurchaseEvent.scheme_id,
                sa.func.count(sa.distinct(PurchaseEvent.merchant_id)).label("shops"),
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
        noisy = released.get(scheme.id)
        # The k rule on the noisy purchases (distinct shoppers are not released),
        # the three-shop rule on the exact number of active shops.
        shown = (row is not None and noisy is not None and row.shops >= MIN_SHOPS
                 and noisy.purchases >= scheme.k_anonymity)
        figures.append(
            SchemeFigures(
                scheme_id=scheme.id,
                name=scheme.name,
                inhabitants=scheme.inhabitants,
                active_shops=int(row.shops) if shown and row else None,
                purchases=noisy.purchases if shown and noisy else None,
                spending_cents=noisy.amount_cents if shown and noisy else None,
                points_issued=int(row.points or 0) if shown and row and aligned else None,
                purchases_margin=noisy.purchases_margin if shown and noisy else None,
                spending_margin_cents=noisy.amount_margin_cents if shown and noisy else None,
            )
        )
    return Comparison(figures, until)
