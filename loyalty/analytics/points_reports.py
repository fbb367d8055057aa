"""The points economy and where points are spent, from the ledger (the one source of
truth for points).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from loyalty.analytics import privacy
from loyalty.analytics.periods import Period
from loyalty.analytics.privacy import Cell
from loyalty.analytics.report_kit import (
    Column,
    Context,
    Entry,
    Report,
    Tally,
    compared,
    custom_report,
)
from loyalty.analytics.report_kit import (
    translatable as _l,
)
from loyalty.analytics.rollups import GROUP_CHARS
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    Claim,
    LedgerTransaction,
    Merchant,
    Posting,
    Redemption,
    RedemptionStatus,
)
from loyalty.town import sectors

# -- points: from the ledger, the one source of truth for points -------------------------

REPORTS: list[Entry] = []


def _utc_bounds(ctx: Context, period: Period) -> tuple[datetime, datetime]:
    zone = ZoneInfo(ctx.scheme.timezone)
    start = datetime.combine(period.start, time(0), zone).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def _forfeited(ctx: Context, period: Period) -> Cell:
    """Points taken from wallets into breakage in the period (a deleted wallet's points,
    expiry), per wallet: the k rule counts the wallets that lost points."""
    start, end = _utc_bounds(ctx, period)
    rows = ctx.session.execute(
        sa.select(sa.literal(None), Account.wallet_id, -sa.func.sum(Posting.amount),
                  sa.func.count())
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            LedgerTransaction.scheme_id == ctx.scheme.id,
            LedgerTransaction.kind.in_(["forfeit", "expire"]),
            LedgerTransaction.created_at >= start,
            LedgerTransaction.created_at < end,
            Account.kind == AccountKind.WALLET,
            Account.asset == Asset.POINTS,
            Posting.amount < 0,
        )
        .group_by(Account.wallet_id)
    ).all()
    return _points_cell("forfeit", rows)


def _points_cell(key: str, rows: Any) -> Cell:
    per_shop: dict[int, int] = defaultdict(int)
    wallets: set[int] = set()
    total = count = 0
    for merchant_id, wallet_id, amount, n in rows:
        total += int(amount)
        count += int(n)
        if merchant_id is not None:
            per_shop[int(merchant_id)] += int(amount)
        if wallet_id is not None:
            wallets.add(int(wallet_id))
    return Cell(key=key, label=POINTS_LABELS.get(key, key), purchases=count, amount_cents=None,
                shoppers=len(wallets), shops=len(per_shop),
                top_shop_amount_cents=max(per_shop.values(), default=0), points=total)


POINTS_LABELS = {
    "earn": _l("Points issued"),
    "redeem": _l("Points redeemed"),
    "forfeit": _l("Points forfeited (breakage)"),
}


def _issued_by_shop_and_wallet(ctx: Context, period: Period) -> Any:
    """(merchant, wallet, points, count) of earns in the period: who gave points to whom."""
    start, end = _utc_bounds(ctx, period)
    return ctx.session.execute(
        sa.select(Claim.merchant_id, Claim.wallet_id, sa.func.sum(Claim.points), sa.func.count())
        .where(
            Claim.scheme_id == ctx.scheme.id,
            Claim.transaction_id.is_not(None),
            Claim.claimed_at >= start,
            Claim.claimed_at < end,
        )
        .group_by(Claim.merchant_id, Claim.wallet_id)
    ).all()


def _redeemed_by_shop_and_wallet(ctx: Context, period: Period) -> Any:
    start, end = _utc_bounds(ctx, period)
    return ctx.session.execute(
        sa.select(Redemption.merchant_id, Redemption.wallet_id, sa.func.sum(Redemption.points),
                  sa.func.count())
        .where(
            Redemption.scheme_id == ctx.scheme.id,
            Redemption.status == RedemptionStatus.CONFIRMED,
            Redemption.voucher_id.is_(None),
            Redemption.finished_at >= start,
            Redemption.finished_at < end,
        )
        .group_by(Redemption.merchant_id, Redemption.wallet_id)
    ).all()


@custom_report(
    REPORTS,
    "points",
    _l("Points economy"),
    _l("Points issued and redeemed in the period (from the ledger), points forfeited to "
       "breakage, and the outstanding points today with their value in euro: the scheme's "
       "liability."),
    aligned=True,
)
def points_economy(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        issued = _points_cell("earn", _issued_by_shop_and_wallet(ctx, period))
        redeemed = _points_cell("redeem", _redeemed_by_shop_and_wallet(ctx, period))
        forfeited = _forfeited(ctx, period)
        # Breakage belongs to no shop: its rule 2 looks at the period's issuing shops.
        forfeited = replace(
            forfeited,
            shops=issued.shops,
            top_shop_amount_cents=int(issued.top_shop_amount_cents * (forfeited.points or 0)
                                      / max(issued.points or 0, 1)),
        )
        value = ctx.scheme.point_value_cents
        out = [
            # Euro value beside the points; the top shop's share in the same unit.
            replace(c, amount_cents=(c.points or 0) * value,
                    top_shop_amount_cents=c.top_shop_amount_cents * value)
            for c in (issued, redeemed, forfeited)
            if c.points or c.key != "forfeit"
        ]
        return privacy.suppress(out, ctx.k)

    outstanding_points = int(
        ctx.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Account.balance), 0)).where(
                Account.scheme_id == ctx.scheme.id,
                Account.asset == Asset.POINTS,
                Account.kind.in_([AccountKind.WALLET, AccountKind.HOLDS]),
            )
        )
        or 0
    )
    holders = int(
        ctx.session.scalar(
            sa.select(sa.func.count()).where(
                Account.scheme_id == ctx.scheme.id,
                Account.asset == Asset.POINTS,
                Account.kind == AccountKind.WALLET,
                Account.balance > 0,
            )
        )
        or 0
    )
    all_issued = ctx.session.execute(
        sa.select(Claim.merchant_id, sa.func.sum(Claim.points))
        .where(Claim.scheme_id == ctx.scheme.id, Claim.transaction_id.is_not(None))
        .group_by(Claim.merchant_id)
    ).all()
    issued_per_shop = [int(p or 0) for _m, p in all_issued]
    outstanding = Cell(
        key="outstanding",
        label=_l("Outstanding points today (liability)"),
        purchases=None,
        amount_cents=outstanding_points * ctx.scheme.point_value_cents,
        shoppers=holders,
        # The points come from every issuing shop; rule 2 looks at their shares.
        shops=len(issued_per_shop),
        top_shop_amount_cents=int(
            max(issued_per_shop, default=0) * outstanding_points
            / max(sum(issued_per_shop), 1)
        ) * ctx.scheme.point_value_cents,
        points=outstanding_points,
    )
    breakage_total = int(
        ctx.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Account.balance), 0)).where(
                Account.scheme_id == ctx.scheme.id,
                Account.asset == Asset.POINTS,
                Account.kind == AccountKind.BREAKAGE,
            )
        )
        or 0
    )
    rows = checked(ctx.period)
    current_rows = [*rows, privacy.suppress_total(outstanding, ctx.k)]
    issued_ever = sum(issued_per_shop)
    notes = (
        _l("Breakage rate since the start"),
        f"{(100.0 * breakage_total / issued_ever) if issued_ever else 0:.1f}%",
    )
    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Figure"), "text"),
                 Column("points", _l("Points"), "points"),
                 Column("amount_cents", _l("Value"), "cents"),
                 Column("purchases", _l("Transactions"), "count"),
                 Column("shoppers", _l("Wallets"), "count")),
        rows=current_rows,
        value="points",
        notes=notes,
    )


@custom_report(
    REPORTS,
    "points-flow",
    _l("Where points are spent"),
    _l("Points redeemed in the period, by the sector where they were earned and the sector "
       "where they were spent (each wallet's redemptions shared out over the sectors of its "
       "earnings)."),
    aligned=True,
)
def points_flow(ctx: Context) -> Report:
    # Sector groups, as in spending by sector: a town has one or two shops per
    # class, so flows between classes would all fall under the three-shop rule.
    shops = {
        mid: sector[:GROUP_CHARS]
        for mid, sector in ctx.session.execute(
            sa.select(Merchant.id, Merchant.sector).where(Merchant.scheme_id == ctx.scheme.id)
        )
    }

    def checked(period: Period) -> list[Cell]:
        _start, end = _utc_bounds(ctx, period)
        earned: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for merchant_id, wallet_id, pts in ctx.session.execute(
            sa.select(Claim.merchant_id, Claim.wallet_id, sa.func.sum(Claim.points))
            .where(Claim.scheme_id == ctx.scheme.id, Claim.transaction_id.is_not(None),
                   Claim.claimed_at < end)
            .group_by(Claim.merchant_id, Claim.wallet_id)
        ):
            if wallet_id is not None:
                earned[int(wallet_id)][shops.get(merchant_id, "?")] += int(pts)
        flows: dict[tuple[str, str], Tally] = {}
        for merchant_id, wallet_id, pts, n in _redeemed_by_shop_and_wallet(ctx, period):
            sources = earned.get(int(wallet_id)) or {"?": 1}
            whole = sum(sources.values())
            for source, share in sources.items():
                flow = flows.setdefault((source, shops.get(merchant_id, "?")), Tally())
                part = int(pts) * share / whole
                flow.points += part
                flow.purchases += int(n)
                flow.wallets.add(int(wallet_id))
                flow.per_shop[int(merchant_id)] += part
        out = [
            flow.cell(f"{a}>{b}", f"{sectors.short_label(a, ctx.lang)} → "
                                  f"{sectors.short_label(b, ctx.lang)}",
                      amount_cents=None, shoppers=len(flow.wallets), points=round(flow.points))
            for (a, b), flow in sorted(flows.items())
        ]
        # Flows have no published total: hidden ones are left out rather than listed empty.
        return [c for c in privacy.suppress(out, ctx.k) if not c.suppressed]

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Earned in → spent in"), "text"),
                 Column("points", _l("Points"), "points"),
                 Column("purchases", _l("Redemptions"), "count"),
                 Column("shoppers", _l("Wallets"), "count")),
        value="points",
    )
