"""/readyz says why the server is not ready (no worker, schema behind, no database);
/metrics carries the jobs' runs, failures and durations from the run history."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from lokaal_sparen.app import create_app
from loyalty.infra.db import make_engine, utcnow
from loyalty.infra.migrate import alembic_config
from loyalty.operations import jobs, runs
from tests.conftest import PublicHostClient


def _local(app: Flask) -> PublicHostClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # the machine's own monitor
    return client  # type: ignore[return-value]


def test_ready_only_with_a_live_worker(ops_app: Flask) -> None:
    client = ops_app.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json == {"status": "not ready",
                           "reasons": ["no worker has ever run: start loyalty worker"]}
    factory = ops_app.extensions["loyalty.sessions"]
    now = utcnow()
    with factory() as session, session.begin():
        runs.beat(session, "server-1:7", now - timedelta(minutes=5), now - timedelta(minutes=5))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["reasons"][0].startswith("no worker alive: the last heartbeat is 30")
    with factory() as session, session.begin():
        runs.beat(session, "server-1:7", now, utcnow())
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.json == {"status": "ready"}


def test_not_ready_when_the_schema_is_behind_or_the_database_is_gone(
    ops_app: Flask, own_database: str
) -> None:
    factory = ops_app.extensions["loyalty.sessions"]
    with factory() as session, session.begin():
        runs.beat(session, "w", utcnow(), utcnow())
    engine = make_engine(own_database)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0017'"))
    engine.dispose()
    answer = ops_app.test_client().get("/readyz")
    assert answer.status_code == 503
    head = ScriptDirectory.from_config(alembic_config(own_database)).get_current_head()
    assert answer.json["reasons"] == [
        f"the database is at migration 0017, not {head}: run loyalty db upgrade"]

    gone = create_app({"TESTING": True, "SECRET_KEY": "x", "PUBLIC_URL": "https://sparen.example.be",
                       "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    gone.test_client_class = PublicHostClient
    answer = gone.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["reasons"][0].startswith("the database does not answer")


def test_job_runs_failures_and_durations_in_the_metrics(ops_app: Flask) -> None:
    factory = ops_app.extensions["loyalty.sessions"]
    start = utcnow() - timedelta(hours=1)
    with factory() as session, session.begin():
        for ok, seconds in ((True, 12), (False, 3), (True, 40)):
            run = runs.start_run(session, jobs.BACKUP, "w", start)
            runs.finish_run(session, run.id, start + timedelta(seconds=seconds), ok=ok,
                            summary="x")
        runs.beat(session, "w", start, start)
    text = _local(ops_app).get("/metrics").get_data(as_text=True)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("lokaal_sparen_job_runs_total", (("job", "backup"), ("status", "ok")))] == 2
    assert samples[("lokaal_sparen_job_runs_total",
                    (("job", "backup"), ("status", "failed")))] == 1
    assert samples[("lokaal_sparen_job_failures_total", (("job", "backup"),))] == 1
    assert samples[("lokaal_sparen_job_duration_seconds", (("job", "backup"),))] == 40
    assert samples[("lokaal_sparen_worker_heartbeat_timestamp_seconds", ())] == int(
        start.timestamp() * 1e6) / 1e6
