"""Menus of the staff areas: a few top-level items, the pages of the current one
as tabs under them (a dozen items in one row took four rows at 1280 px)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy translation
    matches: tuple[str, ...]  # endpoint prefixes of the pages it stands for
    owner_only: bool = False

    def current(self, endpoint: str) -> bool:
        return endpoint.startswith(self.matches)


@dataclass(frozen=True)
class NavGroup:
    label: Any
    items: tuple[NavItem, ...]
    restricted: bool = False  # for the area's managers only (admins, shop owners)

    def current(self, endpoint: str) -> bool:
        return any(item.current(endpoint) for item in self.items)


def visible(nav: Sequence[NavGroup], manager: bool, exists: Any) -> list[NavGroup]:
    """The groups and items this user sees, of the pages that exist (``exists(endpoint)``)."""
    groups = []
    for group in nav:
        if group.restricted and not manager:
            continue
        items = tuple(i for i in group.items
                      if (manager or not i.owner_only) and exists(i.endpoint))
        if items:
            groups.append(NavGroup(group.label, items, group.restricted))
    if len(groups) == 1 and len(groups[0].items) > 1:
        # One group only (a cashier): its pages are the menu.
        groups = [NavGroup(item.label, (item,)) for item in groups[0].items]
    return groups
