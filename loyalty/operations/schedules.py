"""When a scheduled job is due: every few minutes, daily at a time, or monthly on a day.

Three kinds cover every job; each answers one question, "the latest moment
this job was due, at or before now" (``previous``). A job is due when its last
run started before that moment, so a worker that was down runs a missed job
once when it comes back, not once per missed moment.

Times of day are wall-clock times in the town's time zone: a job at 02:30
runs at 02:30 in summer and in winter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo


def _at(day: date, at: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Every:
    """Every ``minutes`` minutes, on the clock (every 5: at :00, :05, :10 ...)."""

    minutes: int

    @property
    def grace(self) -> timedelta:
        # Three missed turns, and never less than a quarter of an hour.
        return max(3 * timedelta(minutes=self.minutes), timedelta(minutes=15))

    def previous(self, now: datetime, zone: tzinfo) -> datetime:
        step = self.minutes * 60
        seconds = int(now.timestamp())
        return datetime.fromtimestamp(seconds - seconds % step, UTC)

    def following(self, now: datetime, zone: tzinfo) -> datetime:
        return self.previous(now, zone) + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Daily:
    """Every day at ``at`` (local time)."""

    at: time
    grace = timedelta(hours=2)

    def previous(self, now: datetime, zone: tzinfo) -> datetime:
        today = now.astimezone(zone).date()
        moment = _at(today, self.at, zone)
        return moment if moment <= now else _at(today - timedelta(days=1), self.at, zone)

    def following(self, now: datetime, zone: tzinfo) -> datetime:
        last = self.previous(now, zone).astimezone(zone).date()
        return _at(last + timedelta(days=1), self.at, zone)


@dataclass(frozen=True)
class Monthly:
    """Every month on day ``day`` (1-28, so every month has it) at ``at`` (local time)."""

    day: int
    at: time
    grace = timedelta(hours=6)

    def __post_init__(self) -> None:
        if not 1 <= self.day <= 28:
            raise ValueError("a monthly job runs on a day from 1 to 28")

    def previous(self, now: datetime, zone: tzinfo) -> datetime:
        local = now.astimezone(zone).date()
        moment = _at(local.replace(day=self.day), self.at, zone)
        if moment <= now:
            return moment
        before = local.replace(day=1) - timedelta(days=1)
        return _at(before.replace(day=self.day), self.at, zone)

    def following(self, now: datetime, zone: tzinfo) -> datetime:
        last = self.previous(now, zone).astimezone(zone).date()
        after = (last.replace(day=28) + timedelta(days=4)).replace(day=self.day)
        return _at(after, self.at, zone)


Schedule = Every | Daily | Monthly
