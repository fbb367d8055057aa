"""NACE-BEL sector codes and their labels, from the bce-codes-to-label package."""

from __future__ import annotations

from functools import lru_cache

LANGUAGES = ("nl", "fr", "en")


@lru_cache(maxsize=2048)
def _entry(code: str) -> dict[str, object] | None:
    # Imported on first use: loading the registry takes most of a second, which
    # every worker process would otherwise pay at start-up.
    from bce_codes_to_label import nace

    digits = code.replace(".", "")
    for version in ("2008", "2025"):
        found = nace(f"{version}:{digits}")
        if isinstance(found, dict):
            return found
    return None


def is_known(code: str) -> bool:
    """True for a NACE-BEL 2008 or 2025 code such as "47.24" or "56.102"."""
    return _entry(code) is not None


def label(code: str, lang: str = "nl") -> str:
    """The official label of a sector code in nl, fr or en; the code itself if unknown."""
    entry = _entry(code)
    if entry is None:
        return code
    text = entry.get(f"label_{lang}") or entry.get("label_nl")
    return str(text) if text else code
