"""The dashboard's reports by name: spending, then shoppers, then points."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty.analytics import points_reports, shopper_reports, spending_reports
from loyalty.analytics.periods import Period
from loyalty.analytics.report_kit import Context, Entry, Report, check_aligned, today_local
from loyalty.models import Scheme

CATALOG: dict[str, Entry] = {
    entry.name: entry
    for entry in (
        *spending_reports.REPORTS, *shopper_reports.REPORTS, *points_reports.REPORTS
    )
}


def build(session: Session, scheme: Scheme, name: str, period: Period, lang: str = "nl") -> Report:
    """The named report of a scheme over a period. Raises KeyError for an unknown name,
    InvalidInput for an aligned report asked for another period."""
    entry = CATALOG[name]
    check_aligned(entry, period, today_local(scheme))
    return entry.build(Context(session, scheme, period, lang, entry))
