"""The scheduled jobs of ``loyalty worker``: who holds each job, and what each run did."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    # Its worker died (a crash, kill -9, a power cut) before it ended: found
    # when the job's lease ran out.
    INTERRUPTED = "interrupted"


class JobLease(Base):
    """One row per job: the worker that runs it now, until when.

    Taken by a conditional UPDATE (free, or its lease ran out), which both
    databases do atomically: of any number of workers on any number of servers,
    one runs a job at a time. A worker renews its lease while the job runs; a
    worker that dies stops renewing, and another may take the job once the
    lease has run out.
    """

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(sa.String(120))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The scheduled moment whose missed run the admins were last told of:
    # one e-mail per missed run, whichever worker notices it.
    alerted_for: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One run of a job: when, by which worker, how it ended and what it did."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(40))
    worker: Mapped[str] = mapped_column(sa.String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(12), default=RunStatus.RUNNING)
    # The job's own one-line summary, or the error that ended it.
    summary: Mapped[str | None] = mapped_column(sa.String(1000))
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("ix_job_runs_job_started_at", "job", "started_at"),
        sa.CheckConstraint(
            "status IN ('running', 'ok', 'failed', 'interrupted')", name="status_known"
        ),
    )


class WorkerHeartbeat(Base):
    """A running worker says it is alive every few seconds (``/readyz`` reads it)."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
