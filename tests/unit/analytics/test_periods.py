"""Report periods: defaults, comparisons and calendar grains."""

from __future__ import annotations

from datetime import date

import pytest

from loyalty.analytics.periods import Period, parse
from loyalty.errors import InvalidInput


def test_the_default_is_the_last_full_month() -> None:
    assert parse(None, None, date(2026, 11, 27)) == Period(date(2026, 10, 1), date(2026, 10, 31))


def test_comparisons() -> None:
    month = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert month.previous() == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert month.last_year() == Period(date(2025, 3, 1), date(2025, 3, 31))
    quarter = Period(date(2026, 1, 1), date(2026, 3, 31))
    assert quarter.grain() == ("quarter", date(2026, 1, 1))
    assert quarter.previous() == Period(date(2025, 10, 1), date(2025, 12, 31))
    to_date = Period(date(2026, 11, 1), date(2026, 11, 27))
    assert to_date.grain() is None and to_date.grain_to_date() == (
        "month", date(2026, 11, 1), date(2026, 11, 30))
    assert to_date.previous() == Period(date(2026, 10, 1), date(2026, 10, 27))
    days = Period(date(2026, 5, 10), date(2026, 5, 16))
    assert days.previous() == Period(date(2026, 5, 3), date(2026, 5, 9))
    leap = Period(date(2028, 2, 29), date(2028, 2, 29))
    assert leap.last_year() == Period(date(2027, 2, 28), date(2027, 2, 28))


def test_bad_periods() -> None:
    with pytest.raises(InvalidInput):
        parse(date(2026, 5, 2), date(2026, 5, 1), date(2026, 6, 1))
    with pytest.raises(InvalidInput):
        parse(date(2020, 1, 1), date(2026, 1, 1), date(2026, 6, 1))
