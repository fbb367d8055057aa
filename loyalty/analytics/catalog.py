"""The dashboard's reports: read models that return a Report, each through analytics.privacy.

Every report has a name (its URL), a title and a one-line definition shown
beside it, a period with the previous period and the same period last year,
rows of privacy-checked cells, and a chart hint for the pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import areas, cells, privacy
from loyalty.analytics.kinds import SHOPPING_KINDS, shopping_kind
from loyalty.analytics.periods import Period
from loyalty.analytics.privacy import Cell
from loyalty.analytics.rollups import GROUP_CHARS, NO_AGE
from loyalty.town import sectors

__all__ = ["SHOPPING_KINDS", "shopping_kind"]
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
    RollupShopperMonth,
    RollupShopShopper,
    Scheme,
)


def _l(text: str) -> str:
    """Marks a text for translation; the pages translate it when they show it."""
    return text


WEEKDAYS = [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday")]

@dataclass(frozen=True)
class Column:
    name: str  # a field of the public row
    label: str  # English text, translated by the pages
    kind: str  # text, count, cents, points, pct


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    definition: str
    k: int
    period: Period
    columns: tuple[Column, ...]
    rows: list[Cell]
    total: Cell | None = None
    total_previous: Cell | None = None
    total_last_year: Cell | None = None
    previous: dict[str, Cell] = field(default_factory=dict)
    last_year: dict[str, Cell] = field(default_factory=dict)
    chart: str = "bars"  # bars, heatmap, lines
    value: str = "amount_cents"  # the figure the chart and the comparisons show
    per_shop: bool = False
    notes: tuple[str, ...] = ()

    def public_rows(self) -> list[dict[str, Any]]:
        """The rows as exported (CSV, JSON): public fields and comparisons only."""
        out = []
        for cell in self.rows:
            row = privacy.public_row(cell)
            current = row.get(self.value)
            for name, other in (("previous", self.previous), ("last_year", self.last_year)):
                before = other.get(cell.key)
                value = privacy.public_row(before).get(self.value) if before else None
                row[f"{name}_{self.value}"] = value
                row[f"change_{name}_pct"] = privacy.change_pct(current, value)
            out.append(row)
        privacy.check_export(out)
        return out

    def public_total(self) -> dict[str, Any] | None:
        """The total row with its comparisons, or None when the report has no total."""
        if self.total is None:
            return None
        row = privacy.public_row(self.total)
        current = row.get(self.value)
        for name, other in (("previous", self.total_previous),
                            ("last_year", self.total_last_year)):
            value = privacy.public_row(other).get(self.value) if other else None
            row[f"{name}_{self.value}"] = value
            row[f"change_{name}_pct"] = privacy.change_pct(current, value)
        privacy.check_export([row])
        return row


@dataclass(frozen=True)
class Context:
    session: Session
    scheme: Scheme
    period: Period
    lang: str

    @property
    def k(self) -> int:
        return self.scheme.k_anonymity or privacy.DEFAULT_K


Builder = Callable[[Context], Report]


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    definition: str
    build: Builder


CATALOG: dict[str, Entry] = {}


def _register(name: str, title: str, definition: str) -> Callable[[Builder], Builder]:
    def decorate(build: Builder) -> Builder:
        CATALOG[name] = Entry(name, title, definition, build)
        return build

    return decorate


def build(session: Session, scheme: Scheme, name: str, period: Period, lang: str = "nl") -> Report:
    """The named report of a scheme over a period. Raises KeyError for an unknown name."""
    return CATALOG[name].build(Context(session, scheme, period, lang))


def _compared(
    ctx: Context,
    name: str,
    checked: Callable[[Period], list[Cell]],
    *,
    columns: tuple[Column, ...],
    rows: list[Cell] | None = None,
    **extra: Any,
) -> Report:
    """The named report: ``checked`` gives its (suppressed) rows for a period, for
    this period, the one before it and the same one last year."""
    entry = CATALOG[name]
    return Report(
        name=name,
        title=entry.title,
        definition=entry.definition,
        k=ctx.k,
        period=ctx.period,
        columns=columns,
        rows=checked(ctx.period) if rows is None else rows,
        previous={c.key: c for c in checked(ctx.period.previous())},
        last_year={c.key: c for c in checked(ctx.period.last_year())},
        **extra,
    )


# -- the usual shape: one dimension, compared over three periods ---------------------------

SPENDING_COLUMNS = (
    Column("label", _l("Group"), "text"),
    Column("purchases", _l("Purchases"), "count"),
    Column("amount_cents", _l("Amount"), "cents"),
    Column("shoppers", _l("Shoppers"), "count"),
)


def _dimension_report(
    ctx: Context,
    name: str,
    dimension: str,
    labels: Callable[[str], str | None],
    *,
    per_shop: bool = False,
    chart: str = "bars",
    exclude: tuple[str, ...] = (),
    with_total: bool = True,
    columns: tuple[Column, ...] = SPENDING_COLUMNS,
    value: str = "amount_cents",
    notes: tuple[str, ...] = (),
) -> Report:

    def checked(period: Period) -> list[Cell]:
        raw = cells.cells(ctx.session, ctx.scheme.id, dimension, period, labels, exclude=exclude)
        return privacy.suppress(raw, ctx.k, per_shop=per_shop)

    def total(period: Period) -> Cell | None:
        if not with_total:
            return None
        all_cells = cells.cells(ctx.session, ctx.scheme.id, "all", period, lambda _k: None)
        if not all_cells:
            return None
        return privacy.suppress_total(all_cells[0], ctx.k, per_shop=per_shop)

    return _compared(
        ctx,
        name,
        checked,
        columns=columns,
        total=total(ctx.period),
        total_previous=total(ctx.period.previous()),
        total_last_year=total(ctx.period.last_year()),
        chart=chart,
        value=value,
        per_shop=per_shop,
        notes=notes,
    )


def _merchant_names(ctx: Context) -> dict[str, str]:
    return {
        str(mid): name
        for mid, name in ctx.session.execute(
            sa.select(Merchant.id, Merchant.name).where(Merchant.scheme_id == ctx.scheme.id)
        )
    }


@_register(
    "sectors",
    _l("Spending by sector"),
    _l("Sales that earned points, per NACE-BEL sector group of the shop (e.g. 47.2, food "
       "shops): purchases, amount and distinct shoppers in the period."),
)
def spending_by_sector(ctx: Context) -> Report:
    # Groups rather than classes: a small town has one or two shops per class,
    # which the three-shop rule would hide.
    return _dimension_report(
        ctx, "sectors", "sector_group", lambda code: f"{code} {sectors.label(code, ctx.lang)}"
    )


@_register(
    "sector-classes",
    _l("Spending by sector class"),
    _l("As spending by sector, per NACE-BEL class (e.g. 47.24, bakeries); classes with fewer "
       "than 3 shops are hidden."),
)
def spending_by_sector_class(ctx: Context) -> Report:
    return _dimension_report(
        ctx, "sector-classes", "sector", lambda code: f"{code} {sectors.label(code, ctx.lang)}"
    )


@_register(
    "shops",
    _l("Spending by shop"),
    _l("Sales that earned points, per shop: purchases, amount and distinct shoppers. Only "
       "for the municipality; shops with fewer than k shoppers are hidden."),
)
def spending_by_shop(ctx: Context) -> Report:
    names = _merchant_names(ctx)
    return _dimension_report(ctx, "shops", "merchant", names.get, per_shop=True)


@_register(
    "heatmap",
    _l("Hour and weekday"),
    _l("Purchases per hour of the day (shop's local time) and day of the week: when "
       "people shop."),
)
def hour_weekday(ctx: Context) -> Report:
    def label(key: str) -> str:
        weekday, hour = key.split("-")
        return f"{WEEKDAYS[int(weekday)]} {int(hour):02d}:00"

    return _dimension_report(
        ctx, "heatmap", "weekday_hour", label, chart="heatmap", value="purchases",
    )


@_register(
    "weekdays",
    _l("Weekday profile"),
    _l("Sales per day of the week over the period: purchases, amount and distinct shoppers."),
)
def weekday_profile(ctx: Context) -> Report:
    return _dimension_report(ctx, "weekdays", "weekday", lambda key: WEEKDAYS[int(key)])


BUSIEST_DAYS = 15


@_register(
    "busiest-days",
    _l("Busiest days"),
    _l("The days with the highest amount spent in the period, with purchases and distinct "
       "shoppers; hidden days are not ranked."),
)
def busiest_days(ctx: Context) -> Report:
    report = _dimension_report(
        ctx, "busiest-days", "day", lambda key: key, chart="bars", with_total=True,
    )
    # Every day passed the rules (and secondary suppression) before ranking.
    ranked = sorted(
        (c for c in report.rows if not c.suppressed),
        key=lambda c: c.amount_cents or 0,
        reverse=True,
    )[:BUSIEST_DAYS]
    return replace(report, rows=ranked, previous={}, last_year={})


@_register(
    "daily",
    _l("Spending per day"),
    _l("Sales that earned points per local day of the period: purchases, amount and distinct "
       "shoppers."),
)
def per_day(ctx: Context) -> Report:
    return _dimension_report(ctx, "daily", "day", lambda key: key, chart="lines")


def _area_label(ctx: Context) -> Callable[[str], str]:
    def label(area: str) -> str:
        kind = areas.area_kind(area, ctx.scheme.nis_code)
        text = areas.area_label(area, ctx.lang)
        if kind == "own_municipality":
            return f"{text} ({_l('village not given')})"
        return text

    return label


@_register(
    "home-areas",
    _l("Where shoppers live"),
    _l("Sales by the shopper's home: the scheme's own villages, then other municipalities "
       "(from the postcode). Only shoppers who consented to statistics."),
)
def home_areas(ctx: Context) -> Report:
    report = _dimension_report(
        ctx, "home-areas", "area", _area_label(ctx), exclude=(areas.UNKNOWN,), with_total=False,
    )
    # Own villages first, then the own municipality without village, then the rest.
    order = {"village": 0, "own_municipality": 1, "other_municipality": 2}
    rows = sorted(
        report.rows,
        key=lambda c: (order.get(areas.area_kind(c.key, ctx.scheme.nis_code), 3),
                       -(c.amount_cents or 0), c.label or ""),
    )
    return replace(report, rows=rows)


@_register(
    "age-bands",
    _l("Age bands"),
    _l("Sales by the shopper's age band. Only shoppers who consented to statistics."),
)
def age_bands(ctx: Context) -> Report:
    return _dimension_report(
        ctx, "age-bands", "age_band", lambda key: key, exclude=(NO_AGE,), with_total=False,
    )


@_register(
    "shopping-kinds",
    _l("Fun, run and daily shopping"),
    _l("Sales split into daily shopping (food, pharmacy, drugstore), run shopping (DIY, "
       "electronics, optician, services) and fun shopping (clothing, books, toys, cafés, "
       "restaurants), by the shop's NACE-BEL sector."),
)
def shopping_kinds(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        figures = cells.sums(ctx.session, ctx.scheme.id, "sector", period)
        kinds: dict[str, list[Any]] = {}
        for sector, (purchases, amount, pts, per_shop) in figures.items():
            entry_ = kinds.setdefault(shopping_kind(sector), [0, 0, 0, defaultdict(int), set()])
            entry_[0] += purchases
            entry_[1] += amount
            entry_[2] += pts
            for shop, value in per_shop.items():
                entry_[3][shop] += value
            entry_[4].add(sector)
        # Distinct shoppers per kind: a shopper of two sectors of one kind counts once.
        members = cells.shoppers(ctx.session, ctx.scheme.id, "kind", period)
        out = [
            Cell(
                key=kind,
                label=SHOPPING_KINDS[kind],
                purchases=v[0],
                amount_cents=v[1],
                shoppers=members.get(kind, 0),
                shops=len(v[3]),
                top_shop_amount_cents=max(v[3].values(), default=0),
                points=v[2],
                extra={"sectors": len(v[4])},
            )
            for kind, v in sorted(kinds.items(), key=lambda kv: list(SHOPPING_KINDS).index(kv[0]))
        ]
        return privacy.suppress(out, ctx.k)

    return _compared(
        ctx,
        "shopping-kinds",
        checked,
        columns=(*SPENDING_COLUMNS, Column("sectors", _l("Sectors"), "count")),
    )


@_register(
    "active-shops",
    _l("Active shops over time"),
    _l("Per calendar month of the period: shops with at least one sale that earned points, "
       "their purchases and amount."),
)
def active_shops(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        figures = cells.sums(ctx.session, ctx.scheme.id, "month", period)
        counts = cells.shoppers(ctx.session, ctx.scheme.id, "month", period)
        out = [
            Cell(
                key=month,
                label=month,
                purchases=v[0],
                amount_cents=v[1],
                shoppers=counts.get(month, 0),
                shops=len(v[3]),
                top_shop_amount_cents=max(v[3].values(), default=0),
                extra={"active_shops": len(v[3])},
            )
            for month, v in sorted(figures.items())
        ]
        return privacy.suppress(out, ctx.k)

    return _compared(
        ctx,
        "active-shops",
        checked,
        columns=(Column("label", _l("Month"), "text"),
                 Column("active_shops", _l("Active shops"), "count"),
                 *SPENDING_COLUMNS[1:]),
        chart="lines",
        value="active_shops",
    )


# -- shopper-level distributions: counts of shoppers, never one shopper -----------------------

FREQUENCY_BINS = ((1, 1, "1"), (2, 3, "2-3"), (4, 6, "4-6"), (7, 12, "7-12"), (13, 10**9, "13+"))
SHOPS_BINS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4-5"), (6, 10**9, "6+"))


def _bin(value: int, bins: tuple[tuple[int, int, str], ...]) -> str:
    return next(label for low, high, label in bins if low <= value <= high)


def _per_shopper(ctx: Context, period: Period) -> dict[str, dict[int, tuple[int, int]]]:
    """Per pseudonym: per shop, (purchases, amount). Internal only; never leaves this module."""
    out: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    rows = ctx.session.execute(
        sa.select(
            RollupShopShopper.shopper_key,
            RollupShopShopper.merchant_id,
            sa.func.sum(RollupShopShopper.purchases),
            sa.func.sum(RollupShopShopper.amount_cents),
        )
        .where(
            RollupShopShopper.scheme_id == ctx.scheme.id,
            RollupShopShopper.day >= period.start,
            RollupShopShopper.day <= period.end,
        )
        .group_by(RollupShopShopper.shopper_key, RollupShopShopper.merchant_id)
    )
    for key, merchant, purchases, amount in rows:
        out[key][int(merchant)] = (int(purchases), int(amount))
    return out


def _binned(
    per_shopper: dict[str, dict[int, tuple[int, int]]],
    bins: tuple[tuple[int, int, str], ...],
    measure: Callable[[dict[int, tuple[int, int]]], int],
    more: Callable[[str], dict[str, int]] | None = None,
) -> list[Cell]:
    groups: dict[str, list[Any]] = {label: [0, 0, 0, defaultdict(int), defaultdict(int)]
                                    for _lo, _hi, label in bins}
    for key, shops in per_shopper.items():
        group = groups[_bin(measure(shops), bins)]
        group[0] += 1
        for shop, (purchases, amount) in shops.items():
            group[1] += purchases
            group[2] += amount
            group[3][shop] += amount
        for name, value in (more(key) if more else {}).items():
            group[4][name] += value
    return [
        Cell(
            key=label,
            label=label,
            purchases=g[1],
            amount_cents=g[2],
            shoppers=g[0],
            shops=len(g[3]),
            top_shop_amount_cents=max(g[3].values(), default=0),
            extra=dict(g[4]),
        )
        for label, g in groups.items()
        if g[0]
    ]


@_register(
    "frequency",
    _l("Returning shoppers and visit frequency"),
    _l("Shoppers by number of purchases in the period, and how many of them came back in "
       "more than one calendar month (returning shoppers)."),
)
def frequency(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        per_shopper = _per_shopper(ctx, period)
        months: dict[str, int] = defaultdict(int)
        for key, in_month in ctx.session.execute(
            sa.select(RollupShopperMonth.shopper_key, RollupShopperMonth.month).where(
                RollupShopperMonth.scheme_id == ctx.scheme.id,
                RollupShopperMonth.month.in_(period.months()),
                RollupShopperMonth.last_day >= period.start,
                RollupShopperMonth.first_day <= period.end,
            )
        ):
            del in_month
            months[key] += 1
        out = _binned(
            per_shopper,
            FREQUENCY_BINS,
            lambda shops: sum(p for p, _a in shops.values()),
            lambda key: {"returning": 1 if months.get(key, 0) > 1 else 0},
        )
        return privacy.suppress(out, ctx.k)

    return _compared(
        ctx,
        "frequency",
        checked,
        columns=(Column("label", _l("Purchases per shopper"), "text"),
                 Column("shoppers", _l("Shoppers"), "count"),
                 Column("returning", _l("Returning"), "count"),
                 Column("purchases", _l("Purchases"), "count"),
                 Column("amount_cents", _l("Amount"), "cents")),
        value="shoppers",
    )


@_register(
    "cross-shopping",
    _l("Cross-shopping"),
    _l("Shoppers by the number of different shops they bought at in the period (which sectors "
       "share shoppers: see Sectors sharing shoppers)."),
)
def cross_shopping(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        out = _binned(_per_shopper(ctx, period), SHOPS_BINS, len)
        return privacy.suppress(out, ctx.k)

    return _compared(
        ctx,
        "cross-shopping",
        checked,
        columns=(Column("label", _l("Shops per shopper"), "text"),
                 Column("shoppers", _l("Shoppers"), "count"),
                 Column("purchases", _l("Purchases"), "count"),
                 Column("amount_cents", _l("Amount"), "cents")),
        value="shoppers",
    )


@_register(
    "sector-pairs",
    _l("Sectors sharing shoppers"),
    _l("For each pair of sector groups: the shoppers who bought in both during the period, "
       "and what they spent in the two."),
)
def sector_pairs(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        rows = ctx.session.execute(
            sa.select(
                RollupShopShopper.shopper_key,
                RollupShopShopper.sector,
                RollupShopShopper.merchant_id,
                sa.func.sum(RollupShopShopper.purchases),
                sa.func.sum(RollupShopShopper.amount_cents),
            )
            .where(
                RollupShopShopper.scheme_id == ctx.scheme.id,
                RollupShopShopper.day >= period.start,
                RollupShopShopper.day <= period.end,
            )
            .group_by(RollupShopShopper.shopper_key, RollupShopShopper.sector,
                      RollupShopShopper.merchant_id)
        )
        shopper_sectors: dict[str, dict[str, dict[int, tuple[int, int]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        for key, sector, merchant, purchases, amount in rows:
            # Sector groups (47.2, food shops): a pair of classes has too few shops to show.
            shopper_sectors[key][sector[:GROUP_CHARS]][int(merchant)] = (
                int(purchases), int(amount))
        pairs: dict[tuple[str, str], list[Any]] = {}
        for by_sector in shopper_sectors.values():
            names = sorted(by_sector)
            for i, first in enumerate(names):
                for second in names[i + 1:]:
                    pair = pairs.setdefault((first, second), [0, 0, 0, defaultdict(int)])
                    pair[0] += 1
                    for sector in (first, second):
                        for shop, (purchases, amount) in by_sector[sector].items():
                            pair[1] += purchases
                            pair[2] += amount
                            pair[3][shop] += amount
        out = [
            Cell(
                key=f"{a}+{b}",
                label=f"{a} {sectors.label(a, ctx.lang)} + {b} {sectors.label(b, ctx.lang)}",
                purchases=v[1],
                amount_cents=v[2],
                shoppers=v[0],
                shops=len(v[3]),
                top_shop_amount_cents=max(v[3].values(), default=0),
            )
            for (a, b), v in sorted(pairs.items())
        ]
        checked_cells = privacy.suppress(out, ctx.k)
        # The pairs that share most shoppers first. Pairs overlap and have no total,
        # so a hidden pair says nothing and is left out (there are many).
        return sorted((c for c in checked_cells if not c.suppressed),
                      key=lambda c: (-(c.shoppers or 0), c.key))

    return _compared(
        ctx,
        "sector-pairs",
        checked,
        columns=(Column("label", _l("Sectors"), "text"),
                 Column("shoppers", _l("Shoppers in both"), "count"),
                 Column("purchases", _l("Purchases"), "count"),
                 Column("amount_cents", _l("Amount"), "cents")),
        value="shoppers",
    )


# -- points: from the ledger, the one source of truth for points -------------------------


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


@_register(
    "points",
    _l("Points economy"),
    _l("Points issued and redeemed in the period (from the ledger), points forfeited to "
       "breakage, and the outstanding points today with their value in euro: the scheme's "
       "liability."),
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
    return _compared(
        ctx,
        "points",
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


@_register(
    "points-flow",
    _l("Where points are spent"),
    _l("Points redeemed in the period, by the sector where they were earned and the sector "
       "where they were spent (each wallet's redemptions shared out over the sectors of its "
       "earnings)."),
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
        flows: dict[tuple[str, str], list[Any]] = {}
        for merchant_id, wallet_id, pts, n in _redeemed_by_shop_and_wallet(ctx, period):
            sources = earned.get(int(wallet_id)) or {"?": 1}
            whole = sum(sources.values())
            for source, share in sources.items():
                flow = flows.setdefault((source, shops.get(merchant_id, "?")),
                                        [0.0, 0, set(), defaultdict(float)])
                part = int(pts) * share / whole
                flow[0] += part
                flow[1] += int(n)
                flow[2].add(int(wallet_id))
                flow[3][int(merchant_id)] += part
        out = [
            Cell(
                key=f"{a}>{b}",
                label=f"{sectors.label(a, ctx.lang)} → {sectors.label(b, ctx.lang)}",
                purchases=v[1],
                amount_cents=None,
                shoppers=len(v[2]),
                shops=len(v[3]),
                top_shop_amount_cents=round(max(v[3].values(), default=0)),
                points=round(v[0]),
            )
            for (a, b), v in sorted(flows.items())
        ]
        # Flows have no published total: hidden ones are left out rather than listed empty.
        return [c for c in privacy.suppress(out, ctx.k) if not c.suppressed]

    return _compared(
        ctx,
        "points-flow",
        checked,
        columns=(Column("label", _l("Earned in → spent in"), "text"),
                 Column("points", _l("Points"), "points"),
                 Column("purchases", _l("Redemptions"), "count"),
                 Column("shoppers", _l("Wallets"), "count")),
        value="points",
    )


def today_local(scheme: Scheme) -> date:
    return datetime.now(ZoneInfo(scheme.timezone)).date()
