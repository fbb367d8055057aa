"""A read replica (DATABASE_REPLICA_URL): an engine that cannot write, and how far
behind the primary the replica is.

A PostgreSQL streaming replica replays the primary's write-ahead log (WAL). Its
data is the primary's as of the last transaction it replayed, so a report read
there can miss what the primary committed since. How much:

- the primary says how far its WAL reaches (``primary_position``, read after
  its last commit of interest); a replica that replayed that far has it all,
  however long ago its last replayed transaction was (an idle primary commits
  nothing for hours: ``now() - pg_last_xact_replay_timestamp()`` alone would
  call that replica hours behind);
- a replica short of that position misses at most what the primary committed
  after the last transaction it replayed: ``now() - pg_last_xact_replay_timestamp()``
  bounds the lag from above.

Nothing here imports Flask: loyalty.web.replica uses it for each request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from loyalty.infra.db import make_engine

# A replica that does not answer must not hold a page up for long (libpq's
# default is to wait forever); a URL that sets connect_timeout keeps its own.
CONNECT_TIMEOUT = 3  # seconds
POLL_INTERVAL = 0.02  # seconds between two looks at the replica's replay position

_STATE = sa.text(
    """
    SELECT pg_is_in_recovery() AS standby,
           pg_last_xact_replay_timestamp() AS replayed_at,
           clock_timestamp() AS measured_at,
           pg_wal_lsn_diff(coalesce(CAST(:target AS pg_lsn), pg_last_wal_receive_lsn()),
                           pg_last_wal_replay_lsn()) AS bytes_behind
    """
)

_FLUSHED = sa.text("SELECT CAST(pg_current_wal_flush_lsn() AS text)")


@dataclass(frozen=True)
class ReplicaState:
    """How current a replica's data is, as seen at ``measured_at``."""

    caught_up: bool  # it has everything the primary had committed when asked
    measured_at: datetime | None = None
    # The primary's commit time of the last transaction the replica replayed.
    replayed_at: datetime | None = None

    @property
    def lag(self) -> timedelta | None:
        """What the replica's data may miss: zero when caught up, else the time since
        its last replayed transaction (an upper bound); None when that is unknown
        (nothing replayed since the replica started)."""
        if self.caught_up:
            return timedelta(0)
        if self.replayed_at is None or self.measured_at is None:
            return None
        return max(self.measured_at - self.replayed_at, timedelta(0))


CAUGHT_UP = ReplicaState(caught_up=True)


def make_replica_engine(url: str) -> Engine:
    """An engine for the replica whose transactions cannot write, even if the URL
    names a server that could (a promoted replica, a mistake): on PostgreSQL every
    transaction is READ ONLY, on SQLite every connection is query_only."""
    if url.startswith("sqlite"):
        engine = make_engine(url)

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA query_only = ON")

        return engine
    kwargs: dict[str, Any] = {"execution_options": {"postgresql_readonly": True}}
    if "connect_timeout" not in sa.engine.make_url(url).query:
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    return make_engine(url, **kwargs)


def primary_position(session: Session) -> str | None:
    """How far the primary's WAL is flushed (every commit so far is in it); None
    when the database is not PostgreSQL."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    position: str | None = session.scalar(_FLUSHED)
    return position


def replica_state(engine: Engine, target: str | None, wait: float = 0.0) -> ReplicaState:
    """How current the replica of ``engine`` is, after waiting up to ``wait`` seconds
    for it to replay the primary up to ``target`` (a ``primary_position``; None
    compares with what the replica has received instead, if it streams). A server that is no
    standby (not PostgreSQL, or a promoted replica) is current. Raises
    sqlalchemy.exc.OperationalError when the replica does not answer."""
    if engine.dialect.name != "postgresql":
        return CAUGHT_UP
    deadline = time.monotonic() + wait
    with engine.connect() as conn:
        while True:
            row = _look(conn, target)
            if not row.standby:
                return CAUGHT_UP
            if row.bytes_behind is not None and row.bytes_behind <= 0:
                return ReplicaState(True, row.measured_at, row.replayed_at)
            if time.monotonic() >= deadline:
                return ReplicaState(False, row.measured_at, row.replayed_at)
            time.sleep(POLL_INTERVAL)


def _look(conn: Connection, target: str | None) -> Any:
    row = conn.execute(_STATE, {"target": target}).one()
    conn.rollback()  # no transaction held open between two looks
    return row
