"""How far behind a replica is, and that its engine cannot write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from loyalty.infra.replica import (
    CAUGHT_UP,
    ReplicaState,
    make_replica_engine,
    replica_state,
)

# WAL positions: one every replica has replayed, one no primary will reach.
START = "0/0"
END_OF_TIME = "FFFFFFFF/FFFFFFFF"


@pytest.fixture
def replica(replica_url: str) -> Iterator[sa.Engine]:
    engine = make_replica_engine(replica_url)
    yield engine
    engine.dispose()


def test_the_lag_is_zero_when_caught_up_and_else_bounded_by_the_last_replay() -> None:
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    now = long_ago + timedelta(hours=3)
    # An idle primary commits nothing for hours: a replica that has all of it is current.
    assert ReplicaState(True, now, long_ago).lag == timedelta(0)
    assert ReplicaState(False, now, long_ago).lag == timedelta(hours=3)
    assert ReplicaState(False, now, None).lag is None  # nothing replayed since it started
    assert ReplicaState(False, long_ago, now).lag == timedelta(0)  # clocks a little apart
    assert CAUGHT_UP.lag == timedelta(0)


def test_a_replica_is_caught_up_once_it_replayed_the_primarys_position(
    replica: sa.Engine, dialect: str
) -> None:
    if dialect != "postgresql":
        assert replica_state(replica, None) == CAUGHT_UP  # SQLite: the file itself
        return
    # A position it passed long ago: current, however old its last replayed commit is.
    assert replica_state(replica, START).caught_up
    # A position it cannot reach: behind once the wait is over, by the time since
    # the last transaction it replayed (unknown if none since it started).
    state = replica_state(replica, END_OF_TIME, wait=0.05)
    assert not state.caught_up and state.measured_at is not None
    assert state.lag is None or state.lag >= timedelta(0)


def test_the_replica_engine_refuses_every_write(replica: sa.Engine) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="read-only|readonly"), replica.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE written_on_the_replica (id INTEGER)")


def test_a_writable_server_named_as_replica_is_still_not_written(
    database_url: str, dialect: str
) -> None:
    # The primary itself under DATABASE_REPLICA_URL (a mistake, or a promoted replica):
    # the engine's transactions are read-only all the same.
    engine = make_replica_engine(database_url)
    try:
        with pytest.raises(sa.exc.DBAPIError, match="read-only|readonly"), engine.begin() as c:
            c.exec_driver_sql("CREATE TABLE written_through_the_replica_engine (id INTEGER)")
        assert replica_state(engine, START) == CAUGHT_UP  # no standby: nothing to wait for
    finally:
        engine.dispose()
