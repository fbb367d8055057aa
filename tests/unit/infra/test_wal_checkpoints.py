"""A server's SQLite checkpoints in a thread of its own, not inside a request's COMMIT."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from lokaal_sparen.wsgi import served_app
from loyalty.infra.db import BACKSTOP_CHECKPOINT_PAGES, make_engine, start_wal_checkpoints

ROWS = 40
BLOB = 50_000  # bytes per row: 2 MB in all, some 500 pages of the log


def _main_file_bytes(path: Path) -> int:
    return os.path.getsize(path)


def _write(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, b BLOB)")
    for _ in range(ROWS):  # one commit each, as requests make them
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (b) VALUES (randomblob(?))", (BLOB,))


def test_commits_leave_the_log_to_the_checkpoint_thread(tmp_path: Path) -> None:
    path = tmp_path / "served.db"
    engine = make_engine(f"sqlite:///{path}")
    checkpoints = start_wal_checkpoints(engine)
    assert checkpoints is not None
    try:
        with engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert pages == BACKSTOP_CHECKPOINT_PAGES  # commits do not checkpoint at 1,000
        _write(engine)
        deadline = time.monotonic() + 10
        while _main_file_bytes(path) < ROWS * BLOB and time.monotonic() < deadline:
            time.sleep(0.02)
        # The rows reached the database file itself: the thread copied the log.
        assert _main_file_bytes(path) >= ROWS * BLOB
    finally:
        checkpoints.stop()
        engine.dispose()
    assert not checkpoints.thread.is_alive()


def test_without_the_thread_the_rows_stay_in_the_log_until_1000_pages(tmp_path: Path) -> None:
    # The same writes with SQLite's own checkpoints held back to the backstop:
    # nothing else copies the log, so the test above measures the thread.
    path = tmp_path / "plain.db"
    engine = make_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _backstop(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")

    try:
        _write(engine)
        time.sleep(0.2)
        assert _main_file_bytes(path) < ROWS * BLOB / 4
    finally:
        engine.dispose()


def test_no_thread_for_postgresql_or_memory() -> None:
    assert start_wal_checkpoints(make_engine("sqlite://")) is None
    pg = make_engine("postgresql://postgres@127.0.0.1:5432/test")  # never connects
    assert start_wal_checkpoints(pg) is None


def test_a_server_worker_starts_the_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'served.db'}")
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    app = served_app()  # what each worker of `loyalty serve` and `loyalty demo` runs
    checkpoints = app.extensions["loyalty.wal_checkpoints"]
    try:
        assert checkpoints.thread.is_alive()
    finally:
        checkpoints.stop()
        app.extensions["loyalty.engine"].dispose()
