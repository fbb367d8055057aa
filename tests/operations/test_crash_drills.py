"""Crash drills: ``kill -9`` the worker in the middle of a settlement, a rollup
refresh and a backup, and the web server in the middle of a settlement request.
After a restart and a rerun the books verify, no month is half-settled, no
rollup counts a sale twice, and every file named as a backup restores.

Real processes (``loyalty worker``, ``loyalty serve``) on a real database, each
killed with SIGKILL: no cleanup of theirs runs, as in a power cut.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
import sqlalchemy as sa

from loyalty.analytics.generate import generate_events
from loyalty.infra import backup as backups
from loyalty.infra.backup_retention import moment_of
from loyalty.infra.db import make_engine, make_session_factory, sqlite_begin_mode
from loyalty.models import (
    JobRun,
    PurchaseEvent,
    Role,
    RollupShopDay,
    RollupShopHour,
    RunStatus,
    Scheme,
    Settlement,
    SettlementLine,
)
from loyalty.operations import jobs
from tests.conftest import free_port
from tests.factories import PASSWORD, TOTP_SECRET, make_scheme, make_user
from tests.lokaal_sparen.helpers import run
from tests.settlement_data import generate_month, make_shops

MONTHS = [f"2026-{m:02d}" for m in range(1, 7)]
ALL_JOBS = [jobs.SPEND_HOLDS, jobs.WEBHOOKS, jobs.ANALYTICS_REFRESH, jobs.FRAUD_CHECK, jobs.RELEASE,
            jobs.BACKUP, jobs.POINT_EXPIRY, jobs.LEDGER_VERIFY, jobs.SOCIAL_TARIFF,
            jobs.SETTLEMENT, jobs.NEWS_DIGEST, jobs.NOTIFICATIONS]


class Town:
    """A database with half a year of sales to settle and a year of events to fold."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def scalar(self, stmt: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.scalar(stmt)

    def settled(self) -> dict[str, int]:
        """Each settled month and its number of shop lines."""
        with self.engine.connect() as conn:
            return dict(conn.execute(
                sa.select(Settlement.period, sa.func.count(SettlementLine.id))
                .join(SettlementLine, SettlementLine.settlement_id == Settlement.id,
                      isouter=True)
                .group_by(Settlement.period).order_by(Settlement.period)
            ).all())

    def runs_of(self, job: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(sa.select(JobRun.status).where(JobRun.job == job)
                                     .order_by(JobRun.id)))

    def verify_ledger(self) -> None:
        checked = run(["ledger", "verify"], self.url)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def town(own_database: str) -> Iterator[Town]:
    setup = make_engine(own_database)
    with make_session_factory(setup)() as session:
        scheme = make_scheme(session)
        shops = make_shops(session, scheme, 80)
        for number, period in enumerate(MONTHS, start=1):
            year, month = (int(p) for p in period.split("-"))
            generate_month(session, scheme, shops, datetime(year, month, 1, tzinfo=UTC), 800,
                           seed=number, wallets_count=20)
        generate_events(session, session.get_one(Scheme, scheme.id), 60_000,
                        end=date(2026, 11, 30))
        make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
        session.commit()
    setup.dispose()
    built = Town(own_database)
    # The test only reads: on SQLite it must not queue for the write lock that the
    # worker holds through a whole refresh (it would only see the run once it ended).
    token = sqlite_begin_mode.set("DEFERRED")
    try:
        yield built
    finally:
        sqlite_begin_mode.reset(token)
        built.engine.dispose()


def _env(url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "crash-drill",
            "WORKER_LEASE_SECONDS": "3", **extra}


def _worker(url: str, job: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    """``loyalty worker`` running only ``job``."""
    others = ",".join(name for name in ALL_JOBS if name != job)
    with log.open("ab") as out:  # the child writes to its own copy of the handle
        process = subprocess.Popen(
            [sys.executable, "-m", "lokaal_sparen", "worker", "--tick", "1"],
            env=_env(url, WORKER_SKIP=others, **extra),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    _started.append(process)
    return process


_started: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _finish(town: Town, job: str, log: Path, **extra: str) -> None:
    """Restart the worker; it marks the killed run interrupted and runs the job again."""
    again = _worker(town.url, job, log, **extra)
    try:
        _wait(lambda: town.runs_of(job)[-1:] == [RunStatus.OK], f"{job} to end", 300)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=60)
    assert town.runs_of(job) == [RunStatus.INTERRUPTED, RunStatus.OK], log.read_text()


def test_kill_the_worker_in_a_settlement_a_refresh_and_a_backup(
    town: Town, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"

    # 1. Settlement: killed once the first month is locked, while it settles the next.
    worker = _worker(town.url, jobs.SETTLEMENT, log)
    _wait(lambda: len(town.settled()) >= 1, "the first month to be settled")
    _kill(worker)
    assert town.runs_of(jobs.SETTLEMENT) == [RunStatus.RUNNING]
    halfway = town.settled()
    assert 1 <= len(halfway) < 11, halfway
    # Whole months only, in order, each with a line for every shop.
    assert list(halfway) == MONTHS[: len(halfway)] or list(halfway)[:6] == MONTHS
    assert set(halfway.values()) == {80}
    town.verify_ledger()
    _finish(town, jobs.SETTLEMENT, log)
    settled = town.settled()
    assert list(settled)[:6] == MONTHS and len(settled) == 11  # January to November
    assert set(settled.values()) == {80}
    town.verify_ledger()

    # 2. Rollup refresh: killed while it folds 60,000 events; all of them or none.
    events = town.scalar(sa.select(sa.func.count()).select_from(PurchaseEvent))
    amount = town.scalar(sa.select(sa.func.sum(PurchaseEvent.amount_cents)))
    folded = sa.select(sa.func.coalesce(sa.func.sum(RollupShopDay.purchases), 0))
    worker = _worker(town.url, jobs.ANALYTICS_REFRESH, log)
    _wait(lambda: town.runs_of(jobs.ANALYTICS_REFRESH) == [RunStatus.RUNNING],
          "the refresh to start")
    time.sleep(0.3)
    _kill(worker)
    assert town.scalar(folded) in (0, events)
    _finish(town, jobs.ANALYTICS_REFRESH, log)
    for table in (RollupShopDay, RollupShopHour):
        assert town.scalar(sa.select(sa.func.sum(table.purchases))) == events
        assert town.scalar(sa.select(sa.func.sum(table.amount_cents))) == amount

    # 3. Backup: killed while it writes or proves it; only whole backups carry the name.
    folder = tmp_path / "backups"
    worker = _worker(town.url, jobs.BACKUP, log, BACKUP_DIR=str(folder))
    _wait(lambda: town.runs_of(jobs.BACKUP) == [RunStatus.RUNNING], "the backup to start")
    time.sleep(0.2)
    _kill(worker)
    _restores_every_named_backup(town.url, folder, tmp_path)
    _finish(town, jobs.BACKUP, log, BACKUP_DIR=str(folder))
    named = _restores_every_named_backup(town.url, folder, tmp_path)
    assert named, "no backup after the rerun"
    assert not list(folder.glob(".restore-check-*"))
    town.verify_ledger()


def _restores_every_named_backup(url: str, folder: Path, tmp_path: Path) -> list[Path]:
    named = [p for p in folder.glob("lokaal-sparen-*") if moment_of(p.name)]
    for path in named:
        with backups.scratch_database(url, tmp_path) as scratch:
            backups.restore(scratch, path)
            checked = run(["ledger", "verify"], scratch)
            assert checked.returncode == 0, checked.stdout + checked.stderr
    return named


def test_kill_the_server_in_a_settlement_request(town: Town, tmp_path: Path) -> None:
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    env = _env(town.url, PUBLIC_URL=server)
    log = tmp_path / "serve.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "lokaal_sparen", "serve", "--port", str(port),
                 "--workers", "2"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        _started.append(process)
        _wait(lambda: _answers(f"{server}/healthz"), "the server to answer", 60)
        return process

    with town.engine.connect() as conn:
        email = conn.scalar(sa.text("SELECT email FROM staff_users"))
    process = start()
    token = requests.post(f"{server}/api/v1/auth/token", timeout=30, json={
        "email": email, "password": PASSWORD, "otp": pyotp.TOTP(TOTP_SECRET).now(),
    }).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    answers: list[Any] = []

    def settle() -> None:
        try:
            answers.append(requests.post(f"{server}/api/v1/settlements", headers=headers,
                                         json={"period": "2026-01"}, timeout=60))
        except requests.ConnectionError as error:
            answers.append(error)

    request = threading.Thread(target=settle)
    request.start()
    time.sleep(0.15)
    _kill(process)
    request.join()
    # Killed before it answered: the request was cut off in the middle.
    assert isinstance(answers[0], requests.ConnectionError), answers
    settled = town.settled()
    assert settled in ({}, {"2026-01": 80})  # the month whole, or not at all
    town.verify_ledger()

    process = start()
    try:
        again = requests.post(f"{server}/api/v1/settlements", headers=headers,
                              json={"period": "2026-01"}, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert again.status_code in (200, 201), again.text
    assert again.json()["period"] == "2026-01" and len(again.json()["shops"]) == 80
    assert town.settled() == {"2026-01": 80}
    town.verify_ledger()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
