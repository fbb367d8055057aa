"""The privacy rules every report passes through, in one place.

1. A cell with fewer than k distinct shoppers is suppressed (k is the
   scheme's ``k_anonymity``, 10 by default).
2. Outside the per-shop report, a cell built from fewer than 3 shops, or where
   one shop holds more than half of the amount, is suppressed (it would reveal
   a single shop's turnover).
3. Secondary suppression: a report that shows a total, or whose cells add up
   to a figure shown elsewhere, must never have exactly one hidden cell, or
   the total minus the visible cells gives it back. When exactly one cell is
   hidden, the smallest visible cell is hidden too. A total is itself a cell
   and passes rules 1 and 2.
4. Comparisons (previous period, same period last year) are cells of their
   own period and pass the same rules; a change is shown only when both sides
   are visible.
Released figures (sums of released cells with noise, analytics.release) have no
distinct-shopper count: rule 1 then reads the noisy purchases (a noisy count
below k is hidden), and rule 2 reads ``top_share``, the largest shop's share of
the cell's exact amount (the decision to hide only; the figure shown is noisy).
Released counts of shoppers (analytics.period_release) are the other way round:
rule 1 reads the noisy count of shoppers, and as they show no amount, nothing of
a shop's turnover, rule 2 does not apply to them.

5. Exports carry only the public fields below: no pseudonym, no shop count or
   top-shop amount (that would be a shop's turnover), no event-level row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

MIN_SHOPS = 3
MAX_SHOP_SHARE = 0.5
DEFAULT_K = 10

# What a report row may carry out of the building (CSV, JSON, page).
PUBLIC_FIELDS = (
    "key",
    "label",
    "purchases",
    "amount_cents",
    "shoppers",
    "points",
    "suppressed",
    # Half-widths of the 95% interval of a released figure's noise (None: exact).
    "purchases_margin",
    "amount_margin_cents",
    "shoppers_margin",
)
# Never in an export, whatever a report puts in its extras.
FORBIDDEN_FIELDS = frozenset(
    {"shopper_key", "wallet_id", "email", "token", "token_hash", "home_postcode",
     "home_village", "event_id", "id", "shops", "top_shop_amount_cents"}
)


class PrivacyError(Exception):
    """A report tried to publish a field that must never leave the analytics tables."""


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
    points: int | None = None
    # Report-specific figures (e.g. "returning" shoppers); hidden with the cell.
    extra: Mapping[str, int | None] = field(default_factory=dict)
    # Why a suppressed cell is hidden, for the page to say so: "shoppers" (rule 1),
    # "shops" (rule 2: fewer than three shops, or one holds most of it) or
    # "secondary" (rule 3). Not exported.
    hidden_by: str | None = None
    # Released figures: sums of noisy released cells with their 95% margins, and
    # the largest shop's share of the exact amount (for rule 2 only, never shown).
    released: bool = False
    purchases_margin: int | None = None
    amount_margin_cents: int | None = None
    top_share: float = 0.0
    # A released count of shoppers (a whole released period): its 95% margin.
    shoppers_margin: int | None = None


def violates(cell: Cell, k: int, *, per_shop: bool = False) -> bool:
    """True when rule 1 or 2 hides this cell."""
    return rule_broken(cell, k, per_shop=per_shop) is not None


def rule_broken(cell: Cell, k: int, *, per_shop: bool = False) -> str | None:
    """"shoppers" or "purchases" (rule 1), "shops" (rule 2) or None."""
    if cell.released and cell.shoppers is not None:
        # A released count of shoppers, with no amount: the k rule on the noisy count.
        return "shoppers" if cell.shoppers < k else None
    if cell.released:
        # No distinct shoppers are released: the noisy purchases stand in for them.
        if (cell.purchases or 0) < k:
            return "purchases"
        if per_shop:
            return None
        return "shops" if cell.shops < MIN_SHOPS or cell.top_share > MAX_SHOP_SHARE else None
    if (cell.shoppers or 0) < k:
        return "shoppers"
    if per_shop:
        return None
    # The amount that one shop may not dominate: euro where there is one, else points.
    amount = cell.amount_cents if cell.amount_cents is not None else (cell.points or 0)
    if cell.shops < MIN_SHOPS or cell.top_shop_amount_cents > MAX_SHOP_SHARE * amount:
        return "shops"
    return None


def hide(cell: Cell, why: str = "shoppers") -> Cell:
    return replace(
        cell,
        purchases=None,
        amount_cents=None,
        shoppers=None,
        points=None,
        purchases_margin=None,
        amount_margin_cents=None,
        shoppers_margin=None,
        extra={name: None for name in cell.extra},
        suppressed=True,
        hidden_by=why,
    )


def suppress(cells: list[Cell], k: int, *, per_shop: bool = False) -> list[Cell]:
    """The cells with rules 1 to 3 applied; suppressed cells carry no figures."""
    reasons: list[str | None] = [rule_broken(cell, k, per_shop=per_shop) for cell in cells]
    flagged = [reason is not None for reason in reasons]
    if sum(flagged) == 1 and len(cells) > 1:
        visible = [i for i, f in enumerate(flagged) if not f]
        # The smallest visible cell: hiding it costs the reader least.
        smallest = min(
            visible,
            key=lambda i: (
                cells[i].amount_cents if cells[i].amount_cents is not None
                else (cells[i].points or 0),
                cells[i].shoppers or 0,
            ),
        )
        flagged[smallest] = True
        reasons[smallest] = "secondary"
    return [hide(cell, reason or "secondary") if f else cell
            for cell, f, reason in zip(cells, flagged, reasons, strict=True)]


def suppress_total(total: Cell, k: int, *, per_shop: bool = False) -> Cell:
    """A total row is a cell too: rules 1 and 2 apply to it alone."""
    reason = rule_broken(total, k, per_shop=per_shop)
    return hide(total, reason) if reason else total


# The 95% margin of each figure a report may compare, by the figure's name.
MARGIN_OF = {"purchases": "purchases_margin", "amount_cents": "amount_margin_cents",
             "shoppers": "shoppers_margin"}


def change_pct(current: int | None, before: int | None, current_margin: int | None = None,
               before_margin: int | None = None) -> float | None:
    """The change between two visible figures, in percent; None when either is hidden,
    and for released figures also when the difference is within their noise (the 95%
    margin of a difference of two independent noisy figures): a +16,000% that is only
    noise would tell a reader something false."""
    if current is None or not before:
        return None
    if current_margin is not None or before_margin is not None:
        noise = math.hypot(current_margin or 0, before_margin or 0)
        if abs(current - before) <= noise or before <= 0:
            return None
    return round(100.0 * (current - before) / before, 1)


def public_row(cell: Cell) -> dict[str, Any]:
    """The fields of a cell that may be exported."""
    row: dict[str, Any] = {name: getattr(cell, name) for name in PUBLIC_FIELDS}
    for name, value in cell.extra.items():
        if name in FORBIDDEN_FIELDS:
            raise PrivacyError(f"{name} may not be exported")
        row[name] = value
    return row


def check_export(rows: Iterable[Mapping[str, Any]]) -> None:
    """Raise PrivacyError if any exported row carries a forbidden field."""
    for row in rows:
        bad = FORBIDDEN_FIELDS.intersection(row)
        if bad:
            raise PrivacyError(f"{sorted(bad)} may not be exported")
