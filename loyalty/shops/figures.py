"""A shop's own figures: points it gave and took, its history, its own statistics.

Read models only (STYLE.md 7): plain functions over the session that return
dataclasses, no writes. Periods are local calendar days of the scheme's time
zone (Europe/Brussels by default); timestamps are compared in UTC.

Earnings count when the shopper claims them (``Claim.claimed_at``, the moment
the ledger posts the points), redemptions when the shop confirms them
(``Redemption.finished_at``). Vouchers are stamp-card rewards at the shop's own
cost and move no points, so they are left out here.

The statistics come from the analytics purchase events of this shop only and
pass through :func:`loyalty.analytics.privacy.suppress` with ``per_shop=True``:
a cell with fewer than the scheme's k distinct shoppers is hidden, and a single
hidden cell takes the smallest visible one with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics.privacy import Cell, suppress
from loyalty.models import (
    Claim,
    ClaimStatus,
    Merchant,
    PurchaseEvent,
    Redemption,
    RedemptionStatus,
    Scheme,
)

PAGE_SIZE = 25
STATS_DAYS = 90
BUSIEST_SHOWN = 3
EARN = "earn"
REDEEM = "redeem"


# -- periods ---------------------------------------------------------------------


def local_start(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight at the start of ``day`` (midnight always exists in Belgium)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def local_bounds(tz: ZoneInfo, first: date, last: date) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in local time."""
    return local_start(first, tz), local_start(last + timedelta(days=1), tz)


@dataclass(frozen=True)
class Period:
    """What a shop gave and took in [start, end), and the euro value of it."""

    first_day: date
    last_day: date
    start: datetime  # local midnight starting first_day
    end: datetime  # local midnight after last_day
    sales: int
    sales_amount_cents: int
    points_issued: int
    redemptions: int
    points_redeemed: int
    discount_cents: int
    point_value_cents: int

    @property
    def owed_to_scheme_cents(self) -> int:
        """The shop pays the scheme the value of the points it gave."""
        return self.points_issued * self.point_value_cents

    @property
    def owed_by_scheme_cents(self) -> int:
        """The scheme pays the shop the value of the points it took as payment."""
        return self.points_redeemed * self.point_value_cents

    @property
    def net_cents(self) -> int:
        """Positive: the scheme owes the shop; negative: the shop owes the scheme."""
        return self.owed_by_scheme_cents - self.owed_to_scheme_cents


@dataclass(frozen=True)
class Overview:
    today: Period
    month: Period


def _earns(merchant: Merchant) -> list[sa.ColumnElement[bool]]:
    return [Claim.merchant_id == merchant.id, Claim.status == ClaimStatus.CLAIMED]


def _redeems(merchant: Merchant) -> list[sa.ColumnElement[bool]]:
    return [
        Redemption.merchant_id == merchant.id,
        Redemption.status == RedemptionStatus.CONFIRMED,
        Redemption.voucher_id.is_(None),
    ]


def period(session: Session, merchant: Merchant, first: date, last: date) -> Period:
    """The shop's figures for the local days ``first`` to ``last``, both included."""
    scheme = session.get_one(Scheme, merchant.scheme_id)
    start, end = local_bounds(ZoneInfo(scheme.timezone), first, last)
    sales, amount, issued = session.execute(
        sa.select(
            sa.func.count(Claim.id),
            sa.func.coalesce(sa.func.sum(Claim.amount_cents), 0),
            sa.func.coalesce(sa.func.sum(Claim.points), 0),
        ).where(*_earns(merchant), Claim.claimed_at >= start, Claim.claimed_at < end)
    ).one()
    redemptions, redeemed, discount = session.execute(
        sa.select(
            sa.func.count(Redemption.id),
            sa.func.coalesce(sa.func.sum(Redemption.points), 0),
            sa.func.coalesce(sa.func.sum(Redemption.discount_cents), 0),
        ).where(*_redeems(merchant), Redemption.finished_at >= start, Redemption.finished_at < end)
    ).one()
    return Period(
        first_day=first,
        last_day=last,
        start=start,
        end=end,
        sales=int(sales),
        sales_amount_cents=int(amount),
        points_issued=int(issued),
        redemptions=int(redemptions),
        points_redeemed=int(redeemed),
        discount_cents=int(discount),
        point_value_cents=scheme.point_value_cents,
    )


def local_today(session: Session, merchant: Merchant, now: datetime) -> date:
    """The scheme's local date at ``now``."""
    scheme = session.get_one(Scheme, merchant.scheme_id)
    return now.astimezone(ZoneInfo(scheme.timezone)).date()


def overview(session: Session, merchant: Merchant, now: datetime) -> Overview:
    """Today's and this month's figures, in the scheme's local time at ``now``."""
    today = local_today(session, merchant, now)
    return Overview(
        today=period(session, merchant, today, today),
        month=period(session, merchant, today.replace(day=1), today),
    )


# -- history ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the history: a sale that gave points, or points taken as payment."""

    kind: str  # EARN or REDEEM
    at: datetime
    sale_amount_cents: int | None  # earn only
    points: int
    discount_cents: int | None  # redeem only


@dataclass(frozen=True)
class HistoryPage:
    entries: list[Entry]
    page: int
    pages: int
    total: int


def _history_union(
    session: Session, merchant: Merchant, first: date | None, last: date | None
) -> sa.Subquery:
    scheme = session.get_one(Scheme, merchant.scheme_id)
    tz = ZoneInfo(scheme.timezone)
    earn_filter = _earns(merchant)
    redeem_filter = _redeems(merchant)
    if first is not None:
        earn_filter.append(Claim.claimed_at >= local_start(first, tz))
        redeem_filter.append(Redemption.finished_at >= local_start(first, tz))
    if last is not None:
        after = local_start(last + timedelta(days=1), tz)
        earn_filter.append(Claim.claimed_at < after)
        redeem_filter.append(Redemption.finished_at < after)
    # The first SELECT names and types the columns: "at" keeps UTCDateTime.
    earns = sa.select(
        sa.literal(EARN, sa.String).label("kind"),
        Claim.id.label("ref"),
        Claim.claimed_at.label("at"),
        Claim.amount_cents.label("sale_amount_cents"),
        Claim.points.label("points"),
        sa.cast(sa.null(), sa.Integer).label("discount_cents"),
    ).where(*earn_filter)
    redeems = sa.select(
        sa.literal(REDEEM, sa.String),
        Redemption.id,
        Redemption.finished_at,
        sa.cast(sa.null(), sa.Integer),
        Redemption.points,
        Redemption.discount_cents,
    ).where(*redeem_filter)
    return sa.union_all(earns, redeems).subquery("history")


def _entry(row: Any) -> Entry:
    return Entry(
        kind=row.kind,
        at=row.at,
        sale_amount_cents=row.sale_amount_cents,
        points=int(row.points),
        discount_cents=row.discount_cents,
    )


def history(
    session: Session,
    merchant: Merchant,
    *,
    first: date | None = None,
    last: date | None = None,
    page: int = 1,
    per_page: int | None = None,
) -> HistoryPage:
    """One page of the shop's earns and redemptions, newest first.

    ``first``/``last`` are local days, both included; a page past the end
    gives the last page.
    """
    per_page = per_page or PAGE_SIZE
    union = _history_union(session, merchant, first, last)
    total = int(session.scalar(sa.select(sa.func.count()).select_from(union)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = session.execute(
        sa.select(union)
        .order_by(union.c.at.desc(), union.c.kind, union.c.ref.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return HistoryPage([_entry(r) for r in rows], page, pages, total)


def all_entries(
    session: Session, merchant: Merchant, first: date | None, last: date | None
) -> Iterator[Entry]:
    """Every earn and redemption of the shop in the local days given, oldest first."""
    union = _history_union(session, merchant, first, last)
    for row in session.execute(sa.select(union).order_by(union.c.at, union.c.kind, union.c.ref)):
        yield _entry(row)


# -- the shop's own statistics ---------------------------------------------------


@dataclass(frozen=True)
class Returning:
    """Of the shop's distinct shoppers since ``since``, how many bought more than once."""

    since: date
    k: int
    shoppers: int | None  # None: hidden, fewer than k
    returning: int | None  # None: hidden
    share: float | None  # None: hidden

    @property
    def hidden(self) -> bool:
        return self.share is None


@dataclass(frozen=True)
class HourCell:
    weekday: int  # 0 = Monday
    hour: int
    purchases: int  # 0 when hidden or empty
    hidden: bool


@dataclass(frozen=True)
class HourRow:
    hour: int
    cells: list[HourCell]  # Monday to Sunday


@dataclass(frozen=True)
class BusyHours:
    since: date
    k: int
    rows: list[HourRow]  # from the first to the last hour with a purchase
    busiest: list[HourCell]  # the visible cells with the most purchases
    hidden_cells: int


def _stats_filter(merchant: Merchant, since: date) -> list[sa.ColumnElement[bool]]:
    return [
        PurchaseEvent.scheme_id == merchant.scheme_id,
        PurchaseEvent.merchant_id == merchant.id,
        PurchaseEvent.local_date >= since,
    ]


def stats_since(session: Session, merchant: Merchant, now: datetime) -> date:
    """First local day of the statistics window: the last STATS_DAYS days, today included."""
    return local_today(session, merchant, now) - timedelta(days=STATS_DAYS - 1)


def returning_shoppers(session: Session, merchant: Merchant, now: datetime) -> Returning:
    """Share of the last 90 days' distinct pseudonyms that bought here more than once.

    Two cells (came back, came once) pass through the privacy rules; the total
    is a cell of its own.
    """
    scheme = session.get_one(Scheme, merchant.scheme_id)
    k = scheme.k_anonymity
    since = stats_since(session, merchant, now)
    per_shopper = (
        sa.select(
            PurchaseEvent.shopper_key,
            sa.func.count().label("n"),
            sa.func.sum(PurchaseEvent.amount_cents).label("amount"),
        )
        .where(*_stats_filter(merchant, since))
        .group_by(PurchaseEvent.shopper_key)
        .subquery()
    )
    back = sa.case((per_shopper.c.n > 1, "returning"), else_="once")
    groups = {
        str(group): (int(shoppers), int(purchases), int(amount))
        for group, shoppers, purchases, amount in session.execute(
            sa.select(
                back,
                sa.func.count(),
                sa.func.sum(per_shopper.c.n),
                sa.func.sum(per_shopper.c.amount),
            ).group_by(back)
        )
    }
    total = sum(shoppers for shoppers, _n, _a in groups.values())
    cells = suppress(
        [
            Cell(
                key=group,
                label=None,
                purchases=purchases,
                amount_cents=amount,
                shoppers=shoppers,
                shops=1,
                top_shop_amount_cents=amount,
            )
            for group, (shoppers, purchases, amount) in sorted(groups.items())
        ],
        k,
        per_shop=True,
    )
    visible = {c.key: c.shoppers for c in cells if not c.suppressed}
    if total < k or len(visible) != len(cells):
        return Returning(
            since=since, k=k, shoppers=total if total >= k else None, returning=None, share=None
        )
    returning = visible.get("returning") or 0
    return Returning(since=since, k=k, shoppers=total, returning=returning, share=returning / total)


def busy_hours(session: Session, merchant: Merchant, now: datetime) -> BusyHours:
    """Purchases per weekday and hour of the last 90 days, small cells hidden."""
    scheme = session.get_one(Scheme, merchant.scheme_id)
    since = stats_since(session, merchant, now)
    rows = session.execute(
        sa.select(
            PurchaseEvent.weekday,
            PurchaseEvent.local_hour,
            sa.func.count(),
            sa.func.sum(PurchaseEvent.amount_cents),
            sa.func.count(sa.distinct(PurchaseEvent.shopper_key)),
        )
        .where(*_stats_filter(merchant, since))
        .group_by(PurchaseEvent.weekday, PurchaseEvent.local_hour)
        .order_by(PurchaseEvent.weekday, PurchaseEvent.local_hour)
    ).all()
    cells = suppress(
        [
            Cell(
                key=f"{weekday}-{hour}",
                label=None,
                purchases=int(n),
                amount_cents=int(amount),
                shoppers=int(shoppers),
                shops=1,
                top_shop_amount_cents=int(amount),
            )
            for weekday, hour, n, amount, shoppers in rows
        ],
        scheme.k_anonymity,
        per_shop=True,
    )
    by_slot: dict[tuple[int, int], HourCell] = {}
    for cell in cells:
        weekday, hour = (int(part) for part in cell.key.split("-"))
        by_slot[weekday, hour] = HourCell(weekday, hour, cell.purchases or 0, cell.suppressed)
    hours = sorted({hour for _weekday, hour in by_slot})
    table = [
        HourRow(
            hour,
            [
                by_slot.get((weekday, hour), HourCell(weekday, hour, 0, False))
                for weekday in range(7)
            ],
        )
        for hour in (range(hours[0], hours[-1] + 1) if hours else [])
    ]
    visible = [c for c in by_slot.values() if not c.hidden]
    busiest = sorted(visible, key=lambda c: (-c.purchases, c.weekday, c.hour))[:BUSIEST_SHOWN]
    return BusyHours(
        since=since,
        k=scheme.k_anonymity,
        rows=table,
        busiest=busiest,
        hidden_cells=sum(c.hidden for c in by_slot.values()),
    )
