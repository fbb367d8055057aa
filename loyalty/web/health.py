"""Health and metrics for the people who run the server (API contract, Operations).

``GET /healthz``: the process answers. ``GET /metrics``: Prometheus text format,
only from the machine itself (the loopback address, e.g. a local Prometheus or
node exporter) or with ``Authorization: Bearer <METRICS_TOKEN>``.

Under gunicorn every worker is its own process: ``loyalty serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start, and each
worker writes its request timings there, so one scrape sees them all. The
prometheus_client module is imported only inside functions, after the fork,
because it chooses between one-process and many-process values when imported.
The sales and redemptions come from the database at scrape time: the same
figures whichever worker or server answers.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from functools import lru_cache
from ipaddress import ip_address
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, jsonify, request

from loyalty.models import (
    Claim,
    ClaimStatus,
    JobRun,
    Redemption,
    RedemptionStatus,
    RunStatus,
    WorkerHeartbeat,
)

bp = Blueprint("health", __name__)

# Request timings in seconds: a sale answers in milliseconds, a report in tenths.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@lru_cache(maxsize=1)
def _request_seconds() -> Any:
    from prometheus_client import Histogram

    return Histogram(
        "lokaal_sparen_request_seconds", "Time to answer a request, per endpoint",
        ["endpoint", "method"], buckets=BUCKETS,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Any) -> Any:
        started = g.get("request_started")
        if started is not None and request.endpoint:
            _request_seconds().labels(request.endpoint, request.method).observe(
                time.perf_counter() - started
            )
        return response


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


@lru_cache(maxsize=1)
def _head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    from loyalty.infra.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


@bp.get("/readyz")
def readyz() -> Any:
    """Ready to serve: the database answers, its schema is at the newest migration,
    and a worker has said it is alive lately (else the nightly jobs are not run)."""
    from alembic.migration import MigrationContext

    from loyalty.infra.db import utcnow
    from loyalty.operations import runs

    reasons = []
    engine = current_app.extensions["loyalty.engine"]
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            beat = conn.scalar(sa.select(sa.func.max(WorkerHeartbeat.seen_at)))
    except sa.exc.SQLAlchemyError as error:
        reasons.append(f"the database does not answer: {type(error).__name__}")
    else:
        head = _head_revision(current_app.config["DATABASE_URL"])
        if current != head:
            reasons.append(f"the database is at migration {current}, not {head}: "
                           "run loyalty db upgrade")
        now = utcnow()
        if beat is None:
            reasons.append("no worker has ever run: start loyalty worker")
        elif now - beat > runs.HEARTBEAT_FRESH:
            reasons.append(f"no worker alive: the last heartbeat is "
                           f"{int((now - beat).total_seconds())} s old")
    if reasons:
        response = jsonify({"status": "not ready", "reasons": reasons})
        response.status_code = 503
        return response
    return jsonify({"status": "ready"})


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


class _DomainFigures:
    """Sales created and collected and redemptions confirmed, counted in the database."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        engine = current_app.extensions["loyalty.engine"]
        with engine.connect() as conn:
            created = conn.scalar(sa.select(sa.func.count()).select_from(Claim)) or 0
            collected = conn.scalar(
                sa.select(sa.func.count()).select_from(Claim)
                .where(Claim.status == ClaimStatus.CLAIMED)
            ) or 0
            redeemed = conn.scalar(
                sa.select(sa.func.count()).select_from(Redemption)
                .where(Redemption.status == RedemptionStatus.CONFIRMED)
            ) or 0
        yield CounterMetricFamily("lokaal_sparen_sales_created", "Sales given points", created)
        yield CounterMetricFamily(
            "lokaal_sparen_sales_collected", "Sales whose points a shopper collected", collected
        )
        yield CounterMetricFamily(
            "lokaal_sparen_redemptions", "Spend codes confirmed at a till", redeemed
        )
        yield from self._jobs(engine)

    def _jobs(self, engine: Any) -> Iterator[Any]:
        """Runs of the scheduled jobs by outcome, and the newest finished run's
        duration, from the run history that every worker writes."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with engine.connect() as conn:
            counts = conn.execute(
                sa.select(JobRun.job, JobRun.status, sa.func.count())
                .group_by(JobRun.job, JobRun.status)
            ).all()
            newest = (
                sa.select(sa.func.max(JobRun.id)).where(JobRun.finished_at.is_not(None))
                .group_by(JobRun.job).scalar_subquery()
            )
            finished = conn.execute(
                sa.select(JobRun.job, JobRun.started_at, JobRun.finished_at)
                .where(JobRun.id.in_(newest))
            ).all()
            beat = conn.scalar(sa.select(sa.func.max(WorkerHeartbeat.seen_at)))
        runs = CounterMetricFamily("lokaal_sparen_job_runs",
                                   "Runs of each scheduled job by outcome",
                                   labels=["job", "status"])
        failures = CounterMetricFamily("lokaal_sparen_job_failures",
                                       "Runs of each scheduled job that failed", labels=["job"])
        for job, status, count in counts:
            runs.add_metric([job, status], count)
            if status == RunStatus.FAILED:
                failures.add_metric([job], count)
        durations = GaugeMetricFamily("lokaal_sparen_job_duration_seconds",
                                      "How long the newest finished run of each job took",
                                      labels=["job"])
        for job, started, ended in finished:
            durations.add_metric([job], (ended - started).total_seconds())
        yield runs
        yield failures
        yield durations
        if beat is not None:
            yield GaugeMetricFamily("lokaal_sparen_worker_heartbeat_timestamp_seconds",
                                    "When a worker last said it was alive (Unix time)",
                                    value=beat.timestamp())


@bp.get("/metrics")
def metrics() -> Any:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    if not _allowed():
        response = jsonify({"error": {"code": "forbidden",
                                      "message": "metrics are for the server's own monitoring"}})
        response.status_code = 403
        return response
    _request_seconds()  # this worker's histogram exists, even before its first request
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry)
    body += generate_latest(_domain_registry())
    return current_app.response_class(body, content_type=CONTENT_TYPE_LATEST)


def _domain_registry() -> Any:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(_DomainFigures())
    return registry
