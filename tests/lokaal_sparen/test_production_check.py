"""`loyalty check`: every misconfiguration named in plain words, and a clean bill
for a server that is ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lokaal_sparen.production_check import run_checks
from loyalty.infra.db import make_engine, make_session_factory
from loyalty.infra.migrate import upgrade
from loyalty.models import JobRun, RunStatus, WorkerHeartbeat
from loyalty.operations import jobs, runs
from tests.lokaal_sparen.helpers import run
from tests.wallet_pass_data import PassKeys

NOW = datetime.now(UTC)
STRONG = "k3J9vQ2mX8pL5wZ1rT7yB4nC6hF0dS2aG9eU3iO"


def _worker_did_its_jobs(config: dict[str, Any], now: datetime) -> None:
    """A worker alive now, and each job run successfully now (as a healthy night leaves it)."""
    engine = make_engine(config["DATABASE_URL"])
    try:
        with make_session_factory(engine)() as session, session.begin():
            runs.beat(session, "server-1:4242", now, now)
            for job in jobs.catalogue(config):
                run = runs.start_run(session, job.name, "server-1:4242", now)
                runs.finish_run(session, run.id, now, ok=True, summary="done")
    finally:
        engine.dispose()


@pytest.fixture
def ready(new_empty_database: Callable[[], str], tmp_path: Path) -> dict[str, Any]:
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "last-night.backup").write_bytes(b"PGDMP")
    url = new_empty_database()
    upgrade(url)
    config = {
        "PUBLIC_URL": "https://sparen.sint-gillis-waas.be", "TRUSTED_PROXIES": 1,
        "SECRET_KEY": STRONG, "MAIL_SERVER": "smtp.sint-gillis-waas.be",
        "STRIPE_SECRET_KEY": None, "STRIPE_WEBHOOK_SECRET": None,
        "DATABASE_URL": url, "BACKUP_DIR": str(backups),
    }
    _worker_did_its_jobs(config, NOW)
    return config


def test_a_server_that_is_ready_has_no_problems(ready: dict[str, Any]) -> None:
    findings = run_checks(ready, NOW)
    assert [f.text for f in findings if f.problem] == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"PUBLIC_URL": None}, "PUBLIC_URL is not set"),
        ({"PUBLIC_URL": "http://sparen.example.be"}, "is not https"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "a" * 40}, "SECRET_KEY is weak"),
        ({"MAIL_SERVER": None}, "MAIL_SERVER is not set"),
        ({"STRIPE_SECRET_KEY": "sk_live_1"}, "STRIPE_WEBHOOK_SECRET is not"),
        ({"STRIPE_WEBHOOK_SECRET": "whsec_1"}, "set both, or neither"),
        ({"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"}, "a test key"),
        ({"BACKUP_DIR": None}, "there are no backups"),
    ],
)
def test_each_misconfiguration_is_named(
    ready: dict[str, Any], change: dict[str, Any], says: str
) -> None:
    problems = [f.text for f in run_checks({**ready, **change}, NOW) if f.problem]
    assert len(problems) == 1 and says in problems[0], problems


def test_an_old_or_missing_backup_and_an_unmigrated_database(
    ready: dict[str, Any], tmp_path: Path, empty_database_url: str
) -> None:
    old = Path(ready["BACKUP_DIR"]) / "last-night.backup"
    stamp = (NOW - timedelta(hours=30)).timestamp()
    os.utime(old, (stamp, stamp))
    problems = [f.text for f in run_checks(ready, NOW) if f.problem]
    assert problems == ["The last backup (last-night.backup) is 30 hours old: the nightly "
                        "backup did not run."]
    empty = tmp_path / "empty"
    empty.mkdir()
    problems = [f.text for f in run_checks({**ready, "BACKUP_DIR": str(empty)}, NOW)
                if f.problem]
    assert len(problems) == 1 and "There is no backup" in problems[0]
    unmigrated = {**ready, "DATABASE_URL": empty_database_url, "BACKUP_DIR": str(empty)}
    problems = [f.text for f in run_checks(unmigrated, NOW) if f.problem]
    assert "The database has no tables yet: run loyalty db upgrade." in problems


def test_no_worker_or_a_failed_job_is_a_problem(ready: dict[str, Any]) -> None:
    problems = [f.text for f in run_checks(ready, NOW + timedelta(minutes=1)) if f.problem]
    assert problems == [], problems
    problems = [f.text for f in run_checks(ready, NOW + timedelta(minutes=3))
                if f.problem and "worker" in f.text]
    assert problems == ["No worker is running: expired points, reminders, the nightly backup "
                        "and the monthly settlement do not happen. Start loyalty worker (the "
                        "install script's lokaal-sparen-worker service)."]
    engine = make_engine(ready["DATABASE_URL"])
    with make_session_factory(engine)() as session, session.begin():
        runs.beat(session, "server-1:4242", NOW, NOW + timedelta(minutes=3))
        run = runs.start_run(session, jobs.LEDGER_VERIFY, "server-1:4242", NOW)
        runs.finish_run(session, run.id, NOW, ok=False, summary="ledger FAILED")
    engine.dispose()
    problems = [f.text for f in run_checks(ready, NOW + timedelta(minutes=3)) if f.problem]
    assert problems == ["The job ledger-verify failed at its last run: see the Operations "
                        "page of the dashboard."]


def test_the_command_fails_until_the_server_is_ready(
    new_empty_database: Callable[[], str], tmp_path: Path
) -> None:
    database_url = new_empty_database()
    upgrade(database_url)
    bad = run(["check"], database_url, extra_env={"PUBLIC_URL": "http://sparen.example.be"})
    assert bad.returncode == 1
    assert "PROBLEM  PUBLIC_URL (http://sparen.example.be) is not https" in bad.stdout
    assert bad.stdout.strip().splitlines()[-1].endswith("not ready for production yet")
    backups = tmp_path / "backups"
    made = run(["backup", "--to", str(backups / "tonight.backup")], database_url)
    assert made.returncode == 0, made.stderr
    good = run(["check"], database_url, extra_env={
        "PUBLIC_URL": "https://sparen.example.be", "TRUSTED_PROXIES": "1",
        "SECRET_KEY": STRONG, "MAIL_SERVER": "smtp.example.be", "BACKUP_DIR": str(backups),
    })
    assert good.returncode == 1
    assert "PROBLEM  No worker is running" in good.stdout
    # The worker runs every job at once (none ran before), and says it is alive.
    worker = subprocess.Popen(
        [sys.executable, "-m", "lokaal_sparen", "worker", "--tick", "1"],
        env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "cli-test",
             "BACKUP_DIR": str(backups)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        # Every job of the catalogue (with a BACKUP_DIR) ran once.
        _wait_for_jobs(database_url, len(jobs.catalogue({"BACKUP_DIR": str(backups)})))
        good = run(["check"], database_url, extra_env={
        "PUBLIC_URL": "https://sparen.example.be", "TRUSTED_PROXIES": "1",
        "SECRET_KEY": STRONG, "MAIL_SERVER": "smtp.example.be", "BACKUP_DIR": str(backups),
    })
        assert good.returncode == 0, good.stdout + good.stderr
        assert good.stdout.strip().splitlines()[-1].startswith("ready for production")
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    assert output.strip().splitlines()[-1].startswith("worker ")
    assert output.strip().splitlines()[-1].endswith(" stopped")
    # It said goodbye: no heartbeat is left behind to look alive.
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(WorkerHeartbeat)) == 0
    engine.dispose()


def _wait_for_jobs(url: str, count: int) -> None:
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                # Jobs, not runs: the every-minute job may run again meanwhile.
                done = conn.scalar(sa.select(sa.func.count(sa.distinct(JobRun.job)))
                                   .where(JobRun.status == RunStatus.OK))
            if done == count:
                return
            time.sleep(0.3)
        raise AssertionError(f"{done} of {count} jobs ran")
    finally:
        engine.dispose()


def test_the_wallet_apps_settings_are_checked(ready: dict[str, Any], pass_keys: PassKeys) -> None:
    def problems(config: dict[str, Any], now: datetime = NOW) -> list[str]:
        return [f.text for f in run_checks(config, now)
                if f.problem and ("Wallet" in f.text or "pass type certificate" in f.text)]

    settings = pass_keys.settings()
    assert problems({**ready, **settings}) == []
    half = {**ready, **settings, "APPLE_WWDR_CERT": None, "GOOGLE_WALLET_ISSUER_ID": None}
    said = problems(half)
    assert len(said) == 2
    assert "Apple Wallet is half set up: APPLE_WWDR_CERT missing" in said[0]
    assert "Google Wallet is half set up: GOOGLE_WALLET_ISSUER_ID missing" in said[1]
    wrong = {**ready, **settings, "APPLE_PASS_KEY": settings["APPLE_PASS_CERT"],
             "GOOGLE_WALLET_SERVICE_ACCOUNT": str(pass_keys.ca)}
    said = problems(wrong)
    assert len(said) == 2
    assert "Apple Wallet certificate, key or WWDR certificate cannot be read" in said[0]
    assert "Google Wallet service account key cannot be used" in said[1]
    # The pass type certificate ends within a year (the test one does): a month ahead, said.
    said = problems({**ready, **settings}, NOW + timedelta(days=350))
    assert len(said) == 1 and "The Apple pass type certificate ends on" in said[0]
