"""Leases, run history and heartbeats of the scheduled jobs.

Plain functions that take the session and never commit: the worker commits
after each step, so that a lease taken is seen by every other worker before
the job starts, and a run's outcome is kept even if the next job fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import JobLease, JobRun, RunStatus, WorkerHeartbeat
from loyalty.operations.jobs import Job

# A run that failed (or was interrupted) is tried again this long after it started,
# until one succeeds or the next scheduled moment comes.
RETRY_AFTER = timedelta(minutes=30)
# A worker that has not said it is alive for this long is taken to be gone.
HEARTBEAT_FRESH = timedelta(minutes=2)


def _ensure_lease_row(session: Session, job: str) -> None:
    if session.get(JobLease, job) is None:
        # Two workers may add the first row at once: the primary key keeps one,
        # and the savepoint lets the loser go on in its transaction.
        try:
            with session.begin_nested():
                session.add(JobLease(job=job))
        except sa.exc.IntegrityError:
            pass


def take_lease(session: Session, job: str, holder: str, now: datetime,
               length: timedelta) -> bool:
    """Hold ``job`` until ``now + length`` if no live worker holds it; True if taken.

    One conditional UPDATE: atomic on SQLite (one writer at a time) and on
    PostgreSQL (the second UPDATE waits for the first and rereads the row).
    """
    _ensure_lease_row(session, job)
    taken = session.execute(
        sa.update(JobLease)
        .where(JobLease.job == job,
               sa.or_(JobLease.holder.is_(None), JobLease.until < now))
        .values(holder=holder, until=now + length)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


def renew_lease(session: Session, job: str, holder: str, now: datetime,
                length: timedelta) -> bool:
    """Extend the lease this holder has; False when it lost it (it ran out)."""
    renewed = session.execute(
        sa.update(JobLease).where(JobLease.job == job, JobLease.holder == holder)
        .values(until=now + length).execution_options(synchronize_session=False)
    )
    return renewed.rowcount == 1  # type: ignore[attr-defined]


def release_lease(session: Session, job: str, holder: str) -> None:
    session.execute(
        sa.update(JobLease).where(JobLease.job == job, JobLease.holder == holder)
        .values(holder=None, until=None).execution_options(synchronize_session=False)
    )


def start_run(session: Session, job: str, worker: str, now: datetime) -> JobRun:
    """Record that ``worker`` (which holds the lease) starts ``job`` now.

    Any run of the job still marked running belongs to a worker that died: its
    lease ran out, or this worker could not have taken it.
    """
    session.execute(
        sa.update(JobRun).where(JobRun.job == job, JobRun.status == RunStatus.RUNNING)
        .values(status=RunStatus.INTERRUPTED, finished_at=now,
                summary="the worker stopped during this run")
        .execution_options(synchronize_session=False)
    )
    run = JobRun(job=job, worker=worker, started_at=now, status=RunStatus.RUNNING)
    session.add(run)
    session.flush()  # its id, for finish_run
    return run


def finish_run(session: Session, run_id: int, now: datetime, *, ok: bool, summary: str,
               error: str | None = None) -> None:
    session.execute(
        sa.update(JobRun).where(JobRun.id == run_id)
        .values(status=RunStatus.OK if ok else RunStatus.FAILED, finished_at=now,
                summary=summary[:1000], error=error)
        .execution_options(synchronize_session=False)
    )


def last_runs(session: Session) -> dict[str, JobRun]:
    """The newest run of each job."""
    newest = (
        sa.select(JobRun.job, sa.func.max(JobRun.id).label("id")).group_by(JobRun.job)
        .subquery()
    )
    runs = session.scalars(sa.select(JobRun).join(newest, JobRun.id == newest.c.id))
    return {run.job: run for run in runs}


def last_successes(session: Session) -> dict[str, datetime]:
    """When the newest successful run of each job started."""
    rows = session.execute(
        sa.select(JobRun.job, sa.func.max(JobRun.started_at))
        .where(JobRun.status == RunStatus.OK).group_by(JobRun.job)
    )
    return {job: started for job, started in rows}


def mark_interrupted(session: Session, now: datetime) -> int:
    """Runs still marked running whose worker's lease ran out: that worker died."""
    dead = sa.select(JobLease.job).where(sa.or_(JobLease.holder.is_(None),
                                                JobLease.until < now))
    marked = session.execute(
        sa.update(JobRun).where(JobRun.status == RunStatus.RUNNING, JobRun.job.in_(dead))
        .values(status=RunStatus.INTERRUPTED, finished_at=now,
                summary="the worker stopped during this run")
        .execution_options(synchronize_session=False)
    )
    return int(marked.rowcount)  # type: ignore[attr-defined]


def is_due(job: Job, last: JobRun | None, now: datetime, zone: tzinfo) -> bool:
    """Never run, last run before the latest scheduled moment, an interrupted run
    (at once: its worker died, the job did not fail) or a failed one to retry."""
    if last is None or last.started_at < job.schedule.previous(now, zone):
        return True
    if last.status == RunStatus.INTERRUPTED:
        return True
    return last.status == RunStatus.FAILED and now - last.started_at >= RETRY_AFTER


@dataclass(frozen=True)
class JobState:
    """A job as the Operations page shows it."""

    name: str
    state: str  # "ok", "running", "failed", "overdue", "waiting" (never due yet)
    last: JobRun | None
    last_success: datetime | None
    due_since: datetime  # the latest scheduled moment
    next_at: datetime

    @property
    def alarming(self) -> bool:
        return self.state in ("failed", "overdue")


def states(session: Session, jobs: Sequence[Job], now: datetime, zone: tzinfo
           ) -> list[JobState]:
    """Each job's state: red ("failed", "overdue") when its last run failed or it
    has not run successfully since a moment it was due, plus the grace that a
    slow run or a restart deserves."""
    runs = last_runs(session)
    successes = last_successes(session)
    result = []
    for job in jobs:
        last = runs.get(job.name)
        success = successes.get(job.name)
        due_since = job.schedule.previous(now, zone)
        missed = (success is None or success < due_since) and now >= due_since + job.schedule.grace
        if last is not None and last.status == RunStatus.RUNNING:
            state = "running"
        elif last is not None and last.status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
            state = "failed"
        elif missed:
            state = "overdue"
        elif last is None:
            state = "waiting"
        else:
            state = "ok"
        result.append(JobState(job.name, state, last, success, due_since,
                               job.schedule.following(now, zone)))
    return result


def claim_alert(session: Session, job: str, due_since: datetime) -> bool:
    """True once per job and missed moment: the caller sends the e-mail."""
    _ensure_lease_row(session, job)
    claimed = session.execute(
        sa.update(JobLease)
        .where(JobLease.job == job,
               sa.or_(JobLease.alerted_for.is_(None), JobLease.alerted_for < due_since))
        .values(alerted_for=due_since).execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def history(session: Session, limit: int = 50) -> list[JobRun]:
    return list(session.scalars(sa.select(JobRun).order_by(JobRun.id.desc()).limit(limit)))


def beat(session: Session, worker: str, started_at: datetime, now: datetime) -> None:
    """The worker ``worker`` is alive now."""
    seen = session.execute(
        sa.update(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker)
        .values(seen_at=now).execution_options(synchronize_session=False)
    )
    if seen.rowcount == 0:  # type: ignore[attr-defined]
        session.add(WorkerHeartbeat(worker=worker, started_at=started_at, seen_at=now))
        session.flush()


def stop_beating(session: Session, worker: str) -> None:
    """A worker that stops on purpose says so (a crashed one simply goes stale)."""
    session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))


def workers_alive(session: Session, now: datetime) -> list[WorkerHeartbeat]:
    return list(session.scalars(
        sa.select(WorkerHeartbeat).where(WorkerHeartbeat.seen_at >= now - HEARTBEAT_FRESH)
        .order_by(WorkerHeartbeat.worker)
    ))


def last_heartbeat(session: Session) -> datetime | None:
    return session.scalar(sa.select(sa.func.max(WorkerHeartbeat.seen_at)))
