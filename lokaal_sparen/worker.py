"""``loyalty worker``: one long-running process that runs every scheduled job.

Each pass (every 30 seconds) looks at every job of ``loyalty.operations.jobs``;
a job that is due is taken with a lease in the database (so of any number of
workers on any number of servers one runs it), run, and its outcome kept in
the run history that the dashboard's Operations page shows. A second thread
says every 15 seconds that this worker is alive (``/readyz`` reads it) and
renews the lease of the job being run, so a long settlement keeps its job and
a worker that dies loses it within two minutes (``WORKER_LEASE_SECONDS``).

A job that fails, or that has not run when it was due, is e-mailed to the
admins (``OPS_EMAIL``, else every municipality admin) once.
"""

from __future__ import annotations

import logging
import os
import signal
import smtplib
import socket
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask

from lokaal_sparen import tasks
from lokaal_sparen.tasks import Echo, Outcome, transaction
from loyalty.infra.db import utcnow
from loyalty.operations import jobs, runs

log = logging.getLogger("lokaal_sparen.worker")

# A worker renews its job's lease four times per lease (every 30 s by default):
# a dead worker's job is free again within one lease.
DEFAULT_LEASE_SECONDS = 120
TICK = 30.0  # seconds between passes

TASKS: dict[str, Callable[[Echo, datetime], Outcome]] = {
    jobs.SPEND_HOLDS: tasks.release_spend_holds,
    jobs.WEBHOOKS: tasks.deliver_webhooks,
    jobs.ANALYTICS_REFRESH: tasks.refresh_analytics,
    jobs.RELEASE: tasks.release_statistics,
    jobs.FRAUD_CHECK: tasks.check_fraud,
    jobs.BACKUP: tasks.nightly_backup,
    jobs.POINT_EXPIRY: tasks.expire_points,
    jobs.LEDGER_VERIFY: tasks.verify_ledger,
    jobs.SETTLEMENT: tasks.settle_last_month,
    jobs.SOCIAL_TARIFF: tasks.credit_social_tariff,
    jobs.NOTIFICATIONS: tasks.send_notifications,
    jobs.NEWS_DIGEST: tasks.send_digests,
}


def zone_of(config: Any) -> ZoneInfo:
    return ZoneInfo(config.get("WORKER_TIMEZONE") or "Europe/Brussels")


class Worker:
    """The job runner; ``run_pass`` is one look at every job, ``run`` loops."""

    def __init__(self, app: Flask, name: str | None = None,
                 echo: Echo | None = None) -> None:
        self.app = app
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = utcnow()
        self.echo: Echo = echo or log.info
        self.current: str | None = None
        self.stopping = threading.Event()
        self.lease = timedelta(seconds=int(app.config.get("WORKER_LEASE_SECONDS")
                                           or DEFAULT_LEASE_SECONDS))

    # ------------------------------------------------------------ being alive
    def beat(self, now: datetime | None = None) -> None:
        """Say this worker is alive; renew the lease of the job it runs."""
        now = now or utcnow()
        with self.app.app_context(), transaction() as session:
            runs.beat(session, self.name, self.started_at, now)
            if self.current is not None:
                runs.renew_lease(session, self.current, self.name, now, self.lease)

    def _beat_until_stopped(self) -> None:
        while not self.stopping.wait(min(15.0, self.lease.total_seconds() / 4)):
            try:
                self.beat()
            except sa.exc.SQLAlchemyError:
                log.warning("heartbeat failed; trying again", exc_info=True)

    # ------------------------------------------------------------ the jobs
    def run_pass(self, now: datetime | None = None) -> list[tuple[str, Outcome]]:
        """Run every job that is due now; returns what each run did."""
        with self.app.app_context():
            return self._run_pass(now)

    def _run_pass(self, now: datetime | None) -> list[tuple[str, Outcome]]:
        config = self.app.config
        zone = zone_of(config)
        done: list[tuple[str, Outcome]] = []
        for job in jobs.catalogue(config):
            if self.stopping.is_set():
                break
            moment = now or utcnow()
            with transaction() as session:
                runs.mark_interrupted(session, moment)
                due = runs.is_due(job, runs.last_runs(session).get(job.name), moment, zone)
            if not due:
                continue
            with transaction() as session:
                taken = runs.take_lease(session, job.name, self.name, moment, self.lease)
            if not taken:
                continue  # another worker runs it
            try:
                outcome = self._run_job(job, moment, zone)
            finally:
                with transaction() as session:
                    runs.release_lease(session, job.name, self.name)
            if outcome is not None:
                done.append((job.name, outcome))
        self._alert_missed(now or utcnow(), zone)
        return done

    def _run_job(self, job: jobs.Job, now: datetime, zone: ZoneInfo) -> Outcome | None:
        with transaction() as session:
            # Between our look and our lease another worker may have run it.
            if not runs.is_due(job, runs.last_runs(session).get(job.name), now, zone):
                return None
            run_id = runs.start_run(session, job.name, self.name, now).id
        clock = time.monotonic()
        self.current = job.name
        self.echo(f"{job.name}: started")
        error = None
        try:
            outcome = TASKS[job.name](self.echo, now)
        except Exception as failure:  # noqa: BLE001  (any failure is the run's outcome)
            error = "".join(traceback.format_exception(failure))
            outcome = Outcome(f"{type(failure).__name__}: {failure}"[:500], ok=False)
        finally:
            self.current = None
        with transaction() as session:
            finished = now + timedelta(seconds=time.monotonic() - clock)
            runs.finish_run(session, run_id, finished, ok=outcome.ok, summary=outcome.summary,
                            error=error)
        self.echo(f"{job.name}: {'done' if outcome.ok else 'FAILED'}: {outcome.summary}")
        if not outcome.ok:
            self._tell_admins("failed", job.name, outcome.summary)
        return outcome

    def _alert_missed(self, now: datetime, zone: ZoneInfo) -> None:
        with transaction() as session:
            missed = [state for state in runs.states(session, jobs.catalogue(self.app.config),
                                                     now, zone)
                      if state.state == "overdue"
                      and runs.claim_alert(session, state.name, state.due_since)]
        for state in missed:
            self._tell_admins("missed", state.name, state.due_since.isoformat())

    def _tell_admins(self, what: str, job: str, detail: str) -> None:
        from lokaal_sparen import alerts

        try:
            alerts.send(self.app.config, what, job, detail)
        except (OSError, smtplib.SMTPException):
            log.error("could not e-mail the admins that %s %s", job, what, exc_info=True)

    # ------------------------------------------------------------ the loop
    def run(self, tick: float = TICK) -> None:
        """Run passes until SIGTERM or SIGINT; the job under way ends first."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        self.beat()
        beater = threading.Thread(target=self._beat_until_stopped, daemon=True)
        beater.start()
        self.echo(f"worker {self.name} runs {len(jobs.catalogue(self.app.config))} jobs")
        try:
            while not self.stopping.is_set():
                try:
                    self.run_pass()
                except sa.exc.SQLAlchemyError:
                    # The database went away for a moment: try again next pass.
                    log.warning("a pass failed; trying again", exc_info=True)
                self.stopping.wait(tick)
        finally:
            self.stopping.set()
            with self.app.app_context(), transaction() as session:
                runs.stop_beating(session, self.name)
            self.echo(f"worker {self.name} stopped")
