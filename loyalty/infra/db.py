"""Database plumbing: the declarative base, engines and the session factory.

Nothing here imports Flask: the CLI, the web app and the tests all build their
sessions from these functions.
"""

from __future__ import annotations

import contextvars
import fcntl
import itertools
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    sessionmaker,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

T = TypeVar("T")
log = logging.getLogger(__name__)

# A fixed naming convention makes Alembic autogenerate the same constraint
# names on SQLite and PostgreSQL, so migrations can drop them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and handed back timezone-aware.

    SQLite has no time zones, so storing naive UTC on both databases keeps
    comparisons in SQL (``expires_at > :now``) identical everywhere.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# SQLite: a transaction that reads first and writes later can fail with
# SQLITE_BUSY_SNAPSHOT in WAL mode, and ``SELECT ... FOR UPDATE`` does nothing.
# Write transactions therefore start with ``BEGIN IMMEDIATE``, which takes the
# write lock up front and makes concurrent writers queue (busy_timeout) instead
# of failing. Read-only requests set this to "DEFERRED" so they run in parallel.
sqlite_begin_mode: contextvars.ContextVar[str] = contextvars.ContextVar(
    "sqlite_begin_mode", default="IMMEDIATE"
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the project's SQLite or PostgreSQL settings."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        connect_args: dict[str, Any] = {
            "timeout": 30, "isolation_level": None, "check_same_thread": False,
        }
        path = sa.engine.make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            connect_args["factory"] = _queued_connection_class(f"{path}-writers")
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


# Lock files this thread holds through one of its connections.
_held_here = threading.local()


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on a lock file first.

    Writers that find SQLite's write lock taken wait in SQLite's busy handler,
    which sleeps 1, 2, 5, 10 ... ms between tries: with several worker processes
    under load, many short write transactions slept longer than they ran.
    Waiting in ``flock`` instead, a writer wakes as soon as the previous one
    ends. SQLite's own lock stays the guard; the queue only decides who asks
    for it next.
    """

    lock_path: str = ""
    _queue_fd: int | None = None
    _queued_in: set[str] | None = None

    def join_write_queue(self) -> None:
        held: set[str] = _held_here.__dict__.setdefault("paths", set())
        if self._queued_in is not None or self.lock_path in held:
            # This thread writes through another connection already: waiting
            # here would never end, while SQLite's busy timeout does.
            return
        if self._queue_fd is None:
            try:
                # flock needs no write access: read-only, so another user's
                # process that may write the database can always queue too.
                self._queue_fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError:
                return  # no queue then; SQLite's busy timeout still applies
        fcntl.flock(self._queue_fd, fcntl.LOCK_EX)
        held.add(self.lock_path)
        self._queued_in = held

    def leave_write_queue(self) -> None:
        if self._queued_in is not None and self._queue_fd is not None:
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)
            self._queued_in.discard(self.lock_path)
            self._queued_in = None

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_write_queue()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_write_queue()

    def close(self) -> None:
        self.leave_write_queue()
        if self._queue_fd is not None:
            os.close(self._queue_fd)
            self._queue_fd = None
        super().close()


def _queued_connection_class(lock_path: str) -> type[QueuedWriterConnection]:
    return type("QueuedWriterConnection", (QueuedWriterConnection,), {"lock_path": lock_path})


# Checkpoints: SQLite copies its write-ahead log into the database file once
# the log holds 1,000 pages, inside the COMMIT of whichever transaction
# crossed the mark. That commit then takes milliseconds instead of tens of
# microseconds (two fsyncs), while its process still holds the write queue, so
# under load every other writer waits too. A server checkpoints from a thread
# instead (start_wal_checkpoints), and its commits only checkpoint if that
# thread falls far behind.
CHECKPOINT_INTERVAL = 0.05  # seconds; keeps the log small: long logs slow every read
BACKSTOP_CHECKPOINT_PAGES = 10_000  # what a commit still checkpoints (about 40 MB)
_background_checkpoints: weakref.WeakSet[Engine] = weakref.WeakSet()


class WalCheckpoints:
    """A daemon thread that runs a PASSIVE checkpoint every ``interval`` seconds.

    PASSIVE never waits for readers or writers and copies what it can; with
    nothing new in the log it costs a few microseconds. Each process of a
    server runs one; two at once simply take turns.
    """

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)

    def start(self) -> WalCheckpoints:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # e.g. the file went away; a commit's backstop remains
                    log.warning("WAL checkpoint of %s failed", self.path, exc_info=True)
        finally:
            conn.close()


def start_wal_checkpoints(engine: Engine) -> WalCheckpoints | None:
    """Checkpoint a SQLite file database from a thread of this process (a server's
    worker); None for PostgreSQL and in-memory databases."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return None
    _background_checkpoints.add(engine)
    engine.dispose()  # connections opened before now checkpoint at 1,000 pages
    return WalCheckpoints(path).start()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        if engine in _background_checkpoints:
            cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = sqlite_begin_mode.get()
        dbapi_conn = conn.connection.dbapi_connection
        queued = mode == "IMMEDIATE" and isinstance(dbapi_conn, QueuedWriterConnection)
        if queued:
            dbapi_conn.join_write_queue()
        try:
            # On the driver itself: every request begins a transaction, and this
            # needs none of SQLAlchemy's statement machinery.
            dbapi_conn.execute(f"BEGIN {mode}")
        except BaseException as error:
            if queued:
                dbapi_conn.leave_write_queue()
            if isinstance(error, sqlite3.Error):  # as SQLAlchemy would say it
                raise sa.exc.DBAPIError.instance(
                    f"BEGIN {mode}", None, error, sqlite3.Error
                ) from error
            raise


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


# ----------------------------------------------------------------- hot-path helpers

_PENDING = "loyalty.process_cache.pending"
_MEMO = "loyalty.transaction_memo"


class ProcessCache:
    """Facts that never change once committed (an account's id, a year's pseudonym
    secret), kept per worker process and per engine so hot paths skip their lookups.

    A value read inside a transaction is served to that transaction at once, but
    to other transactions only after it committed: a row the transaction wrote
    itself and then rolled back (whose id the next insert may reuse on SQLite)
    must never be served from here. Any rollback, also of a savepoint, drops the
    transaction's pending values.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._by_engine: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, session: Session, key: Hashable) -> Any:
        engine = session.get_bind()
        value = self._by_engine.get(engine, {}).get(key)
        if value is None:
            pending: dict[tuple[ProcessCache, Any, Hashable], Any] = session.info.get(_PENDING, {})
            value = pending.get((self, engine, key))
        return value

    def put(self, session: Session, key: Hashable, value: Any) -> None:
        session.info.setdefault(_PENDING, {})[(self, session.get_bind(), key)] = value

    def _publish(self, engine: Any, key: Hashable, value: Any) -> None:
        values = self._by_engine.setdefault(engine, {})
        if len(values) >= self.max_entries:
            # Bounded memory: forget the older half (a dict keeps insertion order).
            for old in list(itertools.islice(values, len(values) // 2)):
                del values[old]
        values[key] = value


def transaction_memo(session: Session) -> dict[Hashable, Any]:
    """A dict that lives as long as the session's current database transaction:
    emptied by its commit and by any rollback (also of a savepoint)."""
    memo: dict[Hashable, Any] = session.info.setdefault(_MEMO, {})
    return memo


@event.listens_for(Session, "after_commit")
def _publish_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the transaction may still roll back
    session.info.pop(_MEMO, None)
    pending = session.info.pop(_PENDING, None)
    for (cache, engine, key), value in (pending or {}).items():
        cache._publish(engine, key, value)  # noqa: SLF001


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_MEMO, None)


def update_loaded(session: Session, cls: type[Any], row_id: int, **values: Any) -> None:
    """Give an object the session already holds the values a Core statement just
    wrote to its row, as committed state; an object it does not hold stays unloaded.

    The value moves run as Core statements (no ORM object per row); this keeps
    an ORM object a page or a test loaded earlier in the request from going stale.
    """
    if not session.identity_map:  # the API's earn path holds no objects at all
        return
    loaded = session.identity_map.get(identity_key(cls, row_id))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)
