"""The jobs ``loyalty worker`` runs, and when.

The names are stable: they are in the run history, in the metrics
(``lokaal_sparen_job_*{job="..."}``) and on the dashboard's Operations page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from loyalty.operations.schedules import Daily, Every, Monthly, Schedule

SPEND_HOLDS = "spend-holds"
POINT_EXPIRY = "point-expiry"
ANALYTICS_REFRESH = "analytics-refresh"
RELEASE = "release"
FRAUD_CHECK = "fraud-check"
LEDGER_VERIFY = "ledger-verify"
SETTLEMENT = "settlement"
BACKUP = "backup"
WEBHOOKS = "webhooks"
SOCIAL_TARIFF = "social-tariff"
NOTIFICATIONS = "notifications"
NEWS_DIGEST = "news-digest"

# The night's order: yesterday's fraud check first, then its statistics released
# (once the day has been closed for half an hour, loyalty.analytics.release.GRACE),
# the backup, expiry (its reminders arrive in the morning), the books' check, and
# the monthly settlement.
DEFAULT_SETTLEMENT_DAY = 2


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule


def skipped(config: Mapping[str, Any]) -> list[str]:
    """The jobs WORKER_SKIP leaves to people (e.g. "settlement": settled by hand)."""
    return [n.strip() for n in str(config.get("WORKER_SKIP") or "").split(",") if n.strip()]


def catalogue(config: Mapping[str, Any]) -> list[Job]:
    """Every job the worker runs here (the backup only with a BACKUP_DIR, pushes only
    with VAPID keys, none that WORKER_SKIP names)."""
    jobs = [
        Job(SPEND_HOLDS, Every(5)),
        # A shop's systems hear of a sale within a minute or two.
        Job(WEBHOOKS, Every(1)),
        Job(ANALYTICS_REFRESH, Every(15)),
        Job(FRAUD_CHECK, Daily(time(0, 15))),
        Job(RELEASE, Daily(time(0, 45))),
        Job(POINT_EXPIRY, Daily(time(2, 15))),
        Job(LEDGER_VERIFY, Daily(time(3, 0))),
        # Daily, not monthly: a wallet entitled in the middle of a month gets that
        # month's amount the next night; the unique (wallet, month) key credits once.
        Job(SOCIAL_TARIFF, Daily(time(3, 30))),
        # Mornings: the week's digest arrives with the coffee, not at night.
        Job(NEWS_DIGEST, Daily(time(8, 0))),
        Job(SETTLEMENT, Monthly(int(config.get("SETTLEMENT_DAY") or DEFAULT_SETTLEMENT_DAY),
                                time(4, 0))),
    ]
    if config.get("BACKUP_DIR"):
        jobs.insert(5, Job(BACKUP, Daily(time(1, 30))))
    if config.get("VAPID_PRIVATE_KEY"):
        # Pushes only where push is set up (the wallet offers it only then).
        jobs.insert(1, Job(NOTIFICATIONS, Every(5)))
    return [job for job in jobs if job.name not in skipped(config)]
