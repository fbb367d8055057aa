"""The scheduled jobs' names and schedules in the reader's words (Operations page, alerts)."""

from __future__ import annotations

from flask_babel import format_time, ngettext
from flask_babel import lazy_gettext as _l

from loyalty.operations import jobs
from loyalty.operations.schedules import Daily, Every, Monthly, Schedule

LABELS = {
    jobs.SPEND_HOLDS: _l("Return expired spend codes"),
    jobs.WEBHOOKS: _l("Send the shops' webhooks"),
    jobs.ANALYTICS_REFRESH: _l("Update the reports"),
    jobs.FRAUD_CHECK: _l("Fraud check"),
    jobs.RELEASE: _l("Release the statistics of closed days"),
    jobs.BACKUP: _l("Backup"),
    jobs.POINT_EXPIRY: _l("Point expiry and reminders"),
    jobs.LEDGER_VERIFY: _l("Check the books"),
    jobs.SETTLEMENT: _l("Monthly settlement"),
    jobs.SOCIAL_TARIFF: _l("Social tariff: this month's credit"),
    jobs.NOTIFICATIONS: _l("Send push notifications"),
    jobs.NEWS_DIGEST: _l("Weekly news e-mails"),
}


def label(job: str) -> str:
    return str(LABELS.get(job, job))


def describe(schedule: Schedule) -> str:
    """"every 5 minutes", "daily at 02:15", "monthly on day 2 at 04:00"."""
    if isinstance(schedule, Every):
        return ngettext("every minute", "every %(num)d minutes", schedule.minutes)
    at = format_time(schedule.at, "HH:mm")
    if isinstance(schedule, Daily):
        return str(_l("daily at %(time)s", time=at))
    assert isinstance(schedule, Monthly)
    return str(_l("monthly on day %(day)d at %(time)s", day=schedule.day, time=at))
