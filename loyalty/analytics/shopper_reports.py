"""How shoppers shop: distributions over shoppers (how often, at how many shops, in
which pairs of sectors), always counts of shoppers, never one shopper.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

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
    RollupShopShopper,
)
from loyalty.town import sectors

# -- shopper-level distributions: counts of shoppers, never one shopper -----------------------

FREQUENCY_BINS = ((1, 1, "1"), (2, 3, "2-3"), (4, 6, "4-6"), (7, 12, "7-12"), (13, 10**9, "13+"))
SHOPS_BINS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4-5"), (6, 10**9, "6+"))

REPORTS: list[Entry] = []


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
    groups = {label: Tally() for _lo, _hi, label in bins}
    for key, shops in per_shopper.items():
        group = groups[_bin(measure(shops), bins)]
        group.shoppers += 1
        for shop, (purchases, amount) in shops.items():
            group.add_shop(shop, purchases, amount)
        group.extra.update(more(key) if more else {})
    return [
        group.cell(label, label, extra=dict(group.extra))
        for label, group in groups.items()
        if group.shoppers
    ]


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
        per_shopper = _per_shopper(ctx, period)
        before = period.previous()
        # Returning: seen in the period before too. (Counting calendar months
        # made every one-month period show 0 returning shoppers.)
        seen_before = set(ctx.session.scalars(
            sa.select(RollupShopShopper.shopper_key).distinct().where(
                RollupShopShopper.scheme_id == ctx.scheme.id,
                RollupShopShopper.day >= before.start,
                RollupShopShopper.day <= before.end,
            )
        ))
        out = _binned(
            per_shopper,
            FREQUENCY_BINS,
            lambda shops: sum(p for p, _a in shops.values()),
            lambda key: {"returning": 1 if key in seen_before else 0},
        )
        return privacy.suppress(out, ctx.k)

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Purchases per shopper"), "text"),
                 Column("shoppers", _l("Shoppers"), "count"),
                 Column("returning", _l("Returning"), "count"),
                 Column("purchases", _l("Purchases"), "count"),
                 Column("amount_cents", _l("Amount"), "cents")),
        value="shoppers",
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
        out = _binned(_per_shopper(ctx, period), SHOPS_BINS, len)
        return privacy.suppress(out, ctx.k)

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Shops per shopper"), "text"),
                 Column("shoppers", _l("Shoppers"), "count"),
                 Column("purchases", _l("Purchases"), "count"),
                 Column("amount_cents", _l("Amount"), "cents")),
        value="shoppers",
    )


@custom_report(
    REPORTS,
    "sector-pairs",
    _l("Sectors sharing shoppers"),
    _l("For each pair of sector groups: the shoppers who bought in both during the period, "
       "and what they spent in the two."),
    aligned=True,
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
        pairs: dict[tuple[str, str], Tally] = {}
        for by_sector in shopper_sectors.values():
            names = sorted(by_sector)
            for i, first in enumerate(names):
                for second in names[i + 1:]:
                    pair = pairs.setdefault((first, second), Tally())
                    pair.shoppers += 1
                    for sector in (first, second):
                        for shop, (purchases, amount) in by_sector[sector].items():
                            pair.add_shop(shop, purchases, amount)
        out = [
            pair.cell(f"{a}+{b}", f"{a} {sectors.short_label(a, ctx.lang)} + "
                                  f"{b} {sectors.short_label(b, ctx.lang)}")
            for (a, b), pair in sorted(pairs.items())
        ]
        checked_cells = privacy.suppress(out, ctx.k)
        # The pairs that share most shoppers first. Pairs overlap and have no total,
        # so a hidden pair says nothing and is left out (there are many).
        return sorted((c for c in checked_cells if not c.suppressed),
                      key=lambda c: (-(c.shoppers or 0), c.key))

    return compared(
        ctx,
        checked,
        columns=(Column("label", _l("Sectors"), "text"),
                 Column("shoppers", _l("Shoppers in both"), "count"),
                 Column("purchases", _l("Purchases"), "count"),
                 Column("amount_cents", _l("Amount"), "cents")),
        value="shoppers",
    )
