"""Report periods: a from/to of local dates, its comparisons and its calendar grain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from loyalty.errors import InvalidInput

MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length right before this one (a calendar month's
        previous month, a quarter's previous quarter, a year's previous year)."""
        grain = self.grain()
        if grain is not None:
            months = {"month": 1, "quarter": 3, "year": 12}[grain[0]]
            start = self.start - relativedelta(months=months)
            return Period(start, self.start - timedelta(days=1))
        so_far = self.grain_to_date()
        if so_far is not None:
            # A month (quarter, year) to date: the same days of the one before.
            months = {"month": 1, "quarter": 3, "year": 12}[so_far[0]]
            return Period(self.start - relativedelta(months=months),
                          self.end - relativedelta(months=months))
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def last_year(self) -> Period:
        """The same dates one year earlier (29 February becomes the 28th)."""
        return Period(self.start - relativedelta(years=1), self.end - relativedelta(years=1))

    def grain(self) -> tuple[str, date] | None:
        """("month" | "quarter" | "year", first day) when the period is exactly one of those."""
        s, e = self.start, self.end
        if s.day != 1 or (e + timedelta(days=1)).day != 1:
            return None
        after = e + timedelta(days=1)
        months = (after.year - s.year) * 12 + after.month - s.month
        if months == 1:
            return ("month", s)
        if months == 3 and s.month in (1, 4, 7, 10):
            return ("quarter", s)
        if months == 12 and s.month == 1:
            return ("year", s)
        return None

    def grain_to_date(self) -> tuple[str, date, date] | None:
        """For a period that starts a month, quarter or year and ends inside it (a period
        "to date"): (grain, first day, last day of the grain). The smallest grain wins."""
        if self.start.day != 1:
            return None
        for grain, months in (("month", 1), ("quarter", 3), ("year", 12)):
            if grain == "quarter" and self.start.month not in (1, 4, 7, 10):
                continue
            if grain == "year" and self.start.month != 1:
                continue
            last = self.start + relativedelta(months=months) - timedelta(days=1)
            if self.end <= last:
                return (grain, self.start, last)
        return None

    def months(self) -> list[date]:
        """First days of the calendar months this period touches."""
        out, m = [], self.start.replace(day=1)
        while m <= self.end:
            out.append(m)
            m += relativedelta(months=1)
        return out


def parse(start: date | None, end: date | None, today: date) -> Period:
    """A period from optional dates; the default is the last full calendar month.

    Raises InvalidInput when from is after to or the span exceeds three years.
    """
    if start is None and end is None:
        first = today.replace(day=1)
        return Period(first - relativedelta(months=1), first - timedelta(days=1))
    if start is None:
        assert end is not None
        start = end.replace(day=1)
    if end is None:
        end = min(today, start + relativedelta(months=1) - timedelta(days=1))
    if start > end:
        raise InvalidInput("'from' is after 'to'", code="invalid_period")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput("a period spans at most three years", code="invalid_period")
    return Period(start, end)
