"""Fun, run and daily shopping: a classification of NACE-BEL codes by prefix."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def _l(text: str) -> str:
    """Marks a text for translation; the pages translate it when they show it."""
    return text


# Fun, run and daily shopping, by NACE-BEL code prefix (the longest prefix wins).
# Daily: what a household buys every week (food, pharmacy, drugstore). Run:
# purposeful, planned purchases and services (DIY, electronics, optician,
# hairdresser, fuel). Fun: shopping as an outing (clothing, shoes, books,
# toys, sports, flowers, jewellery, cafés and restaurants, leisure).
SHOPPING_KIND_BY_PREFIX: dict[str, str] = {
    "47.1": "daily",
    "47.2": "daily",
    "47.73": "daily",
    "47.74": "daily",
    "47.75": "daily",
    "47.3": "run",
    "47.4": "run",
    "47.5": "run",
    "47.78": "run",
    "47.79": "run",
    "45": "run",
    "95": "run",
    "96": "run",
    "47.6": "fun",
    "47.7": "fun",
    "47.71": "fun",
    "47.72": "fun",
    "47.76": "fun",
    "47.77": "fun",
    "56": "fun",
    "90": "fun",
    "93": "fun",
}
SHOPPING_KINDS = {"daily": _l("Daily shopping"), "run": _l("Run shopping"),
                  "fun": _l("Fun shopping"), "other": _l("Other")}


def shopping_kind(sector: str) -> str:
    """daily, run, fun or other for a NACE-BEL code, by SHOPPING_KIND_BY_PREFIX."""
    best = ""
    for prefix in SHOPPING_KIND_BY_PREFIX:
        if (sector == prefix or sector.startswith(prefix)) and len(prefix) > len(best):
            best = prefix
    return SHOPPING_KIND_BY_PREFIX.get(best, "other")


def kind_expression(sector: Any) -> Any:
    """The same classification in SQL, for a sector column (longest prefix first)."""
    prefixes = sorted(SHOPPING_KIND_BY_PREFIX, key=len, reverse=True)
    return sa.case(
        *((sector.like(prefix + "%"), SHOPPING_KIND_BY_PREFIX[prefix]) for prefix in prefixes),
        else_="other",
    )


