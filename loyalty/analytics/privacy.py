"""The privacy rules every report passes through, in one place.

1. A cell with fewer than k distinct shoppers is suppressed.
2. Outside the per-shop report, a cell built from fewer than 3 shops, or where
   one shop holds more than half of the amount, is suppressed (it would reveal
   a single shop's turnover).
3. Secondary suppression: if exactly one cell of a report is suppressed, the
   smallest other cell is suppressed too, so that a total published elsewhere
   minus the visible cells cannot give the hidden one back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MIN_SHOPS = 3
MAX_SHOP_SHARE = 0.5


@dataclass(frozen=True)
class Cell:
    key: str
    label: str | None
    purchases: int | None
    amount_cents: int | None
    shoppers: int | None
    shops: int
    top_shop_amount_cents: int
    suppressed: bool = False


def suppress(cells: list[Cell], k: int, *, per_shop: bool = False) -> list[Cell]:
    """The cells with the rules above applied; suppressed cells carry no figures."""
    flagged: list[bool] = []
    for cell in cells:
        small = (cell.shoppers or 0) < k
        dominated = not per_shop and (
            cell.shops < MIN_SHOPS
            or cell.top_shop_amount_cents > MAX_SHOP_SHARE * (cell.amount_cents or 0)
        )
        flagged.append(small or dominated)
    if sum(flagged) == 1 and len(cells) > 1:
        visible = [i for i, f in enumerate(flagged) if not f]
        smallest = min(visible, key=lambda i: cells[i].amount_cents or 0)
        flagged[smallest] = True
    return [
        replace(cell, purchases=None, amount_cents=None, shoppers=None, suppressed=True)
        if hide
        else cell
        for cell, hide in zip(cells, flagged, strict=True)
    ]
