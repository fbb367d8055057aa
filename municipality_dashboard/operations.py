"""The Operations page: is the worker alive, did every scheduled job run, and how."""

from __future__ import annotations

from typing import Any

from babel.dates import format_timedelta
from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from loyalty.infra.db import utcnow
from loyalty.models import JobRun
from loyalty.operations import jobs, runs
from loyalty.web import db, job_names
from loyalty.web.signin import staff_required
from municipality_dashboard.common import ADMIN, bp, render

STATE_LABELS = {
    "ok": _l("OK"),
    "running": _l("Running"),
    "failed": _l("Failed"),
    "overdue": _l("Did not run"),
    "waiting": _l("Not run yet"),
    "interrupted": _l("Interrupted"),
}
RUN_LABELS = {
    "ok": _l("OK"),
    "running": _l("Running"),
    "failed": _l("Failed"),
    "interrupted": _l("Interrupted"),
}


def duration(run: JobRun) -> str:
    """How long a finished run took, in the reader's words ("12 sec.", "3 min")."""
    if run.finished_at is None:
        return ""
    return format_timedelta(run.finished_at - run.started_at, granularity="second",
                            threshold=1.0, format="short", locale=str(get_locale()))


@bp.get("/operations")
@staff_required(*ADMIN)
def operations() -> Any:
    """Every job's state (red when it failed or missed its time), the workers, the history."""
    from zoneinfo import ZoneInfo

    config = current_app.config
    zone = ZoneInfo(config.get("WORKER_TIMEZONE") or "Europe/Brussels")
    session = db()
    now = utcnow()
    catalogue = jobs.catalogue(config)
    schedules = {job.name: job_names.describe(job.schedule) for job in catalogue}
    states = runs.states(session, catalogue, now, zone)
    return render(
        "operations.html",
        states=states,
        schedules=schedules,
        workers=runs.workers_alive(session, now),
        history=runs.history(session),
        label=job_names.label,
        state_label=lambda state: str(STATE_LABELS.get(state, state)),
        duration=duration,
        run_label=lambda status: str(RUN_LABELS.get(status, status)),
        backups=bool(config.get("BACKUP_DIR")),
        skipped=[job_names.label(name) for name in jobs.skipped(config)],
        alarms=sum(state.alarming for state in states),
    )
