"""Reports read from a streaming replica when DATABASE_REPLICA_URL is set.

Only reads that can be a moment old go there: the report pages and their
exports, the overview's figures and the JSON reports. Every write stays on the
primary, in the request's one transaction, and so does what a request reads to
decide what to write (who is signed in, what a form changes).

A report first folds new purchase events into the rollups (a write), on the
primary. With a replica the request's transaction then commits, before the
report is read: the replica can only ever show what the primary committed. The
replica gets a moment (``CATCH_UP_WAIT``) to replay up to that commit, so a
replica that keeps up shows the same figures as the primary. One that does not
is read anyway (that is what it is for) and the page says how far behind it is.
A replica that does not answer is left aside for ``RETRY_AFTER`` seconds and the
report is read from the primary: the log says so, the page works.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from loyalty.infra import replica
from loyalty.infra.db import make_session_factory, sqlite_begin_mode
from loyalty.web import db

T = TypeVar("T")
log = logging.getLogger(__name__)

CATCH_UP_WAIT = 0.5  # seconds a report waits for the replica to replay the primary's commits
LAG_NOTICE_SECONDS = 10  # a lag shown on the page from here (REPLICA_LAG_NOTICE_SECONDS)
RETRY_AFTER = 30.0  # seconds a replica that did not answer is left aside


class Replica:
    """The replica's engine and sessions, and whether it answered lately (per process)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        self._left_aside_until = 0.0

    def available(self) -> bool:
        return time.monotonic() >= self._left_aside_until

    def did_not_answer(self, error: sa.exc.OperationalError) -> None:
        self._left_aside_until = time.monotonic() + RETRY_AFTER
        lines = str(error.orig or error).strip().splitlines()
        reason = lines[0] if lines else type(error.orig or error).__name__
        log.warning(
            "the read replica did not answer (%s): reports are read from the primary "
            "for the next %.0f seconds", reason, RETRY_AFTER,
        )


@dataclass(frozen=True)
class Read(Generic[T]):
    """What a report read, and how current its data is."""

    value: T
    from_replica: bool = False
    state: replica.ReplicaState = replica.CAUGHT_UP

    @property
    def lag_notice(self) -> replica.ReplicaState | None:
        """The replica's state when its lag is worth saying on the page, else None."""
        if not self.from_replica or self.state.caught_up:
            return None
        lag = self.state.lag
        limit = current_app.config.get("REPLICA_LAG_NOTICE_SECONDS", LAG_NOTICE_SECONDS)
        if lag is not None and lag < timedelta(seconds=limit):
            return None
        return self.state


def init_app(app: Flask, engine: Engine | None) -> None:
    if engine is not None:
        app.extensions["loyalty.replica"] = Replica(engine)


def read(
    build: Callable[[Session], T], *, refresh: Callable[[Session], object] | None = None
) -> Read[T]:
    """``build`` run on the replica if there is one and it answers, else on the
    request's session; ``refresh`` first, on the primary, in the request's
    transaction (which then commits when a replica is to be read)."""
    primary = db()
    if refresh is not None:
        refresh(primary)
    found: Replica | None = current_app.extensions.get("loyalty.replica")
    if found is None or not found.available():
        return Read(build(primary))
    # The request's writes end here: the replica can only show what is committed.
    primary.commit()
    target = replica.primary_position(primary)
    try:
        state, value = _on_replica(found, target, build)
    except sa.exc.OperationalError as error:  # no answer, or a query that replay cancelled
        found.did_not_answer(error)
        return Read(build(primary))
    return Read(value, from_replica=True, state=state)


def _on_replica(
    found: Replica, target: str | None, build: Callable[[Session], T]
) -> tuple[replica.ReplicaState, T]:
    token = sqlite_begin_mode.set("DEFERRED")  # a replica is never written to
    try:
        state = replica.replica_state(found.engine, target, wait=CATCH_UP_WAIT)
        with found.sessions() as reads:
            value = build(reads)
            reads.rollback()
    finally:
        sqlite_begin_mode.reset(token)
    return state, value
