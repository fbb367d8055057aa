"""Where and when money is spent: the one-dimension reports as Dimension specs, then
the shopping kinds and the active shops.
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa

from loyalty.analytics import areas, cells, period_release, privacy, release
from loyalty.analytics.kinds import SHOPPING_KINDS
from loyalty.analytics.periods import Period
from loyalty.analytics.privacy import Cell
from loyalty.analytics.report_kit import (
    SPENDING_COLUMNS,
    WEEKDAYS,
    Column,
    Context,
    Dimension,
    Entry,
    Labels,
    Report,
    compared,
    custom_report,
)
from loyalty.analytics.report_kit import (
    translatable as _l,
)
from loyalty.analytics.rollups import NO_AGE
from loyalty.models import (
    Merchant,
)
from loyalty.town import sectors


def _sector_labels(ctx: Context) -> Labels:
    return lambda code: f"{code} {sectors.short_label(code, ctx.lang)}"


def _shop_names(ctx: Context) -> Labels:
    names = {
        str(mid): name
        for mid, name in ctx.session.execute(
            sa.select(Merchant.id, Merchant.name).where(Merchant.scheme_id == ctx.scheme.id)
        )
    }
    return names.get


def _weekday_hours(_ctx: Context) -> Labels:
    def label(key: str) -> str:
        weekday, hour = key.split("-")
        return f"{WEEKDAYS[int(weekday)]} {int(hour):02d}:00"

    return label


def _weekdays(_ctx: Context) -> Labels:
    return lambda key: WEEKDAYS[int(key)]


# The released area table's cell for homes outside the province (or a postcode
# shared by two municipalities).
OTHER_AREA_LABEL = _l("Elsewhere (outside the province)")


def _areas(ctx: Context) -> Labels:
    def label(area: str) -> str:
        if area == release.OTHER_AREA:
            return OTHER_AREA_LABEL
        text = areas.area_label(area, ctx.lang)
        if areas.area_kind(area, ctx.scheme.nis_code) == "own_municipality":
            return f"{text} ({_l('village not given')})"
        return text

    return label


BUSIEST_DAYS = 15


def _busiest_first(_ctx: Context, report: Report) -> Report:
    # Every day passed the rules (and secondary suppression) before ranking.
    ranked = sorted(
        (c for c in report.rows if not c.suppressed),
        key=lambda c: c.amount_cents or 0,
        reverse=True,
    )[:BUSIEST_DAYS]
    return replace(report, rows=ranked, previous={}, last_year={})


def _own_villages_first(ctx: Context, report: Report) -> Report:
    # Own villages first, then the own municipality without village, then the rest.
    order = {"village": 0, "own_municipality": 1, "other_municipality": 2}
    rows = sorted(
        report.rows,
        key=lambda c: (order.get(areas.area_kind(c.key, ctx.scheme.nis_code), 3),
                       -(c.amount_cents or 0), c.label or ""),
    )
    return replace(report, rows=rows)


DIMENSIONS: tuple[Dimension, ...] = (
    # Groups rather than classes: a small town has one or two shops per class,
    # which the three-shop rule would hide.
    Dimension(
        "sectors", _l("Spending by sector"),
        _l("Sales that earned points, per NACE-BEL sector group of the shop (e.g. 47.2, food "
           "shops): purchases and amount in the period."),
        "sector_group", labels=_sector_labels, heading=_l("Sector group"),
    ),
    Dimension(
        "sector-classes", _l("Spending by sector class"),
        _l("As spending by sector, per NACE-BEL class (e.g. 47.24, bakeries); classes with fewer "
           "than 3 shops are hidden."),
        "sector", labels=_sector_labels, heading=_l("Sector class"),
    ),
    Dimension(
        "shops", _l("Spending by shop"),
        _l("Sales that earned points, per shop: purchases and amount in the period. Only for "
           "the municipality; shops with fewer than k purchases (after noise) are hidden."),
        # The released merchant cells: a shop is its own cell, so only the k rule (on
        # the noisy purchases) applies, not the three-shop and dominance rules.
        "merchant", labels=_shop_names, per_shop=True, heading=_l("Shop"),
    ),
    Dimension(
        "heatmap", _l("Hour and weekday"),
        _l("Purchases per hour of the day (shop's local time) and day of the week: when "
           "people shop."),
        "weekday_hour", labels=_weekday_hours, chart="heatmap", value="purchases",
        heading=_l("Weekday and hour"),
    ),
    Dimension(
        "weekdays", _l("Weekday profile"),
        _l("Sales per day of the week over the period: purchases and amount."),
        "weekday", labels=_weekdays, heading=_l("Weekday"),
    ),
    Dimension(
        "busiest-days", _l("Busiest days"),
        _l("The days with the highest amount spent in the period, with their purchases; "
           "hidden days are not ranked."),
        "day", arrange=_busiest_first, heading=_l("Day"),
    ),
    Dimension(
        "daily", _l("Spending per day"),
        _l("Sales that earned points per local day of the period: purchases and amount."),
        "day", chart="lines", heading=_l("Day"),
    ),
    Dimension(
        "home-areas", _l("Where shoppers live"),
        _l("Sales by the shopper's home: the scheme's own villages, then other municipalities "
           "(from the postcode). Only shoppers who consented to statistics."),
        "area", labels=_areas, exclude=(areas.UNKNOWN,), with_total=False,
        arrange=_own_villages_first, heading=_l("Home area"),
    ),
    Dimension(
        "age-bands", _l("Age bands"),
        _l("Sales by the shopper's age band. Only shoppers who consented to statistics."),
        "age_band", exclude=(NO_AGE,), with_total=False, heading=_l("Age band"),
    ),
)


def _kind_labels(_ctx: Context) -> Labels:
    return SHOPPING_KINDS.get


def _kinds_in_order(_ctx: Context, report: Report) -> Report:
    order = list(SHOPPING_KINDS)
    return replace(report, rows=sorted(
        report.rows, key=lambda c: order.index(c.key) if c.key in order else len(order)))


DIMENSIONS = (
    *DIMENSIONS,
    Dimension(
        "shopping-kinds", _l("Fun, run and daily shopping"),
        _l("Sales split into daily shopping (food, pharmacy, drugstore), run shopping (DIY, "
           "electronics, optician, services) and fun shopping (clothing, books, toys, cafés, "
           "restaurants), by the shop's NACE-BEL sector."),
        "kind", labels=_kind_labels, arrange=_kinds_in_order, heading=_l("Group"),
    ),
)
REPORTS: list[Entry] = [spec.entry() for spec in DIMENSIONS]


# -- reports with their own queries ----------------------------------------------------------


def _released_shoppers(ctx: Context, period: Period) -> dict[str, period_release.Figure]:
    """Per calendar month of the period: its distinct shoppers as released (with noise)."""
    out = {}
    for first in period.months():
        found = period_release.released(ctx.session, ctx.scheme.id,
                                        period_release.period_of("month", first))
        if found and "all" in found.get("shoppers", {}):
            out[first.isoformat()[:7]] = found["shoppers"]["all"]
    return out


@custom_report(
    REPORTS,
    "active-shops",
    _l("Active shops over time"),
    _l("Per calendar month of the period: shops with at least one sale that earned points, "
       "their purchases and amount."),
    # How many shops were active is in no released table.
    aligned=True,
)
def active_shops(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        figures = cells.sums(ctx.session, ctx.scheme.id, "month", period)
        counts = _released_shoppers(ctx, period)
        # Purchases and amounts are the released month sums (any difference of two
        # answers is noise); only which shops sold, an aggregate of shops, is exact.
        released = release.released_by(ctx.session, ctx.scheme.id, "month", period)
        out = []
        for month, (_purchases, _amount, _points, per_shop) in sorted(figures.items()):
            figure = released.get(month)
            whole = sum(per_shop.values())
            top = max(per_shop.values(), default=0)
            cell = Cell(
                key=month,
                label=month,
                purchases=figure.purchases if figure else 0,
                amount_cents=figure.amount_cents if figure else 0,
                purchases_margin=figure.purchases_margin if figure else None,
                amount_margin_cents=figure.amount_margin_cents if figure else None,
                released=True,
                # A month not released yet has none: the k rule hides it.
                shoppers=counts[month].shoppers if month in counts and figure else 0,
                shoppers_margin=counts[month].margin if month in counts else None,
                shops=len(per_shop),
                top_shop_amount_cents=top,
                top_share=top / whole if whole > 0 else 0.0,
                extra={"active_shops": len(per_shop)},
            )
            # The shop rules hold too (on a released count of shoppers the k rule
            # alone would decide): fewer than three shops, or one over half, hides it.
            if len(per_shop) < privacy.MIN_SHOPS or cell.top_share > privacy.MAX_SHOP_SHARE:
                cell = privacy.hide(cell, "shops")
            out.append(cell)
        return privacy.suppress(out, ctx.k)

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Month"), "text"),
                 Column("active_shops", _l("Active shops"), "count"),
                 *SPENDING_COLUMNS[1:]),
        chart="lines",
        value="active_shops",
    )
