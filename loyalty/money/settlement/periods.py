"""Settlement periods (calendar months in the scheme's zone) and the Belgian
structured communication of each shop's settlement.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from loyalty.errors import InvalidInput
from loyalty.models import (
    Scheme,
)

PERIOD_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII)


def parse_period(period: str) -> tuple[int, int]:
    """(year, month) of "2026-11". Raises InvalidInput."""
    match = PERIOD_RE.fullmatch(period or "")
    if match is None or not 2000 <= int(match.group(1)) <= 2999:
        raise InvalidInput("period must be a month such as 2026-11", code="invalid_period")
    return int(match.group(1)), int(match.group(2))


def period_bounds(scheme: Scheme, period: str) -> tuple[datetime, datetime]:
    """The month as UTC instants [start, end), midnight to midnight in the scheme's zone."""
    year, month = parse_period(period)
    zone = ZoneInfo(scheme.timezone)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def structured_reference(period: str, merchant_id: int) -> str:
    """A Belgian structured communication (12 digits): yymm, the shop id, mod-97 check.

    The last two digits are the first ten modulo 97 (97 when that is 0).
    """
    year, month = parse_period(period)
    if not 0 < merchant_id < 1_000_000:
        raise ValueError("shop id does not fit a structured communication")
    base = int(f"{year % 100:02d}{month:02d}{merchant_id:06d}")
    return f"{base:010d}{base % 97 or 97:02d}"


def format_reference(reference: str) -> str:
    """+++123/4567/89012+++ as Belgian banks print it."""
    return f"+++{reference[:3]}/{reference[3:7]}/{reference[7:]}+++"


def reference_is_valid(reference: str) -> bool:
    digits = re.sub(r"[+/ ]", "", reference)
    if not re.fullmatch(r"\d{12}", digits, re.ASCII):
        return False
    return (int(digits[:10]) % 97 or 97) == int(digits[10:])
