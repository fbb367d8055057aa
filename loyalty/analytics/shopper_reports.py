"""How shoppers shop: distributions over shoppers (how often, at how many shops, in
which pairs of sector groups), always counts of shoppers, never one shopper.

These figures are no sums of days, so they are read from the released periods
(analytics.period_release): each whole ISO week, calendar month, quarter and year
is released once after it closed, with noise. A report answers with those
released cells only, so two of its answers differ by noise, never by an exact
figure; a period not released yet has no rows (``period_released`` False).
"""

from __future__ import annotations

from loyalty.analytics import period_release, privacy
from loyalty.analytics.period_release import FREQUENCY_BINS, SHOPS_BINS
from loyalty.analytics.periods import Period
from loyalty.analytics.privacy import Cell
from loyalty.analytics.report_kit import (
    Column,
    Context,
    Entry,
    Report,
    compared,
    custom_report,
)
from loyalty.analytics.report_kit import (
    translatable as _l,
)
from loyalty.town import sectors

__all__ = ["FREQUENCY_BINS", "REPORTS", "SHOPS_BINS"]

REPORTS: list[Entry] = []


def _count(key: str, label: str, figure: period_release.Figure,
           extra: dict[str, int | None] | None = None) -> Cell:
    """A released count of shoppers as a report cell (no amount, no shop figures)."""
    return Cell(key=key, label=label, purchases=None, amount_cents=None,
                shoppers=figure.shoppers, shops=0, top_shop_amount_cents=0,
                released=True, shoppers_margin=figure.margin, extra=extra or {})


def _tables(ctx: Context, period: Period) -> dict[str, dict[str, period_release.Figure]]:
    """The period's released tables; empty ones when it is not released (yet)."""
    return period_release.released(ctx.session, ctx.scheme.id, period) or {}


def _released(ctx: Context) -> bool:
    return period_release.released(ctx.session, ctx.scheme.id, ctx.period) is not None


@custom_report(
    REPORTS,
    "frequency",
    _l("Returning shoppers and visit frequency"),
    _l("Shoppers by number of purchases in the period, and how many of them had also bought "
       "in the period just before, of the same length (returning shoppers). Pseudonyms change "
       "every calendar year, so a period in January does not recognise December's shoppers."),
    aligned=True,
)
def frequency(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        tables = _tables(ctx, period)
        shoppers, returning = tables.get("frequency", {}), tables.get("returning", {})
        out = [
            _count(label, label, shoppers[label],
                   {"returning": returning[label].shoppers,
                    "returning_margin": returning[label].margin})
            for _lo, _hi, label in FREQUENCY_BINS if label in shoppers and label in returning
        ]
        return privacy.suppress(out, ctx.k)

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Purchases per shopper"), "text"),
                 Column("shoppers", _l("Shoppers"), "count"),
                 Column("returning", _l("Returning"), "count")),
        value="shoppers",
        period_released=_released(ctx),
    )


@custom_report(
    REPORTS,
    "cross-shopping",
    _l("Cross-shopping"),
    _l("Shoppers by the number of different shops they bought at in the period (which sectors "
       "share shoppers: see Sectors sharing shoppers)."),
    aligned=True,
)
def cross_shopping(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        shops = _tables(ctx, period).get("shops", {})
        out = [_count(label, label, shops[label])
               for _lo, _hi, label in SHOPS_BINS if label in shops]
        return privacy.suppress(out, ctx.k)

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Shops per shopper"), "text"),
                 Column("shoppers", _l("Shoppers"), "count")),
        value="shoppers",
        period_released=_released(ctx),
    )


@custom_report(
    REPORTS,
    "sector-pairs",
    _l("Sectors sharing shoppers"),
    _l("For each pair of sector groups: the shoppers who bought in both during the period "
       "(one shopper counts in six pairs at most)."),
    aligned=True,
)
def sector_pairs(ctx: Context) -> Report:

    def checked(period: Period) -> list[Cell]:
        pairs = _tables(ctx, period).get("sector_pairs", {})
        out = []
        for key in sorted(pairs):
            # Sector groups (47.2, food shops): a pair of classes has too few shops to show.
            a, _plus, b = key.partition("+")
            out.append(_count(key, f"{a} {sectors.short_label(a, ctx.lang)} + "
                                   f"{b} {sectors.short_label(b, ctx.lang)}", pairs[key]))
        checked_cells = privacy.suppress(out, ctx.k)
        # The pairs that share most shoppers first. Pairs overlap and have no total,
        # so a hidden pair says nothing and is left out (there are many).
        return sorted((c for c in checked_cells if not c.suppressed),
                      key=lambda c: (-(c.shoppers or 0), c.key))

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Sectors"), "text"),
                 Column("shoppers", _l("Shoppers in both"), "count")),
        value="shoppers",
        period_released=_released(ctx),
    )
