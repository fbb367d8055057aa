"""Stored first answers of value-moving requests, so retries move nothing twice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: Any


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
            code="invalid_idempotency_key",
        )


def find(session: Session, scope: str, key: str, print_: str) -> StoredAnswer | None:
    """The stored answer for this key, if any. Raises InvalidInput if the key was
    used before for a different request."""
    record = session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is None or record.status_code is None:
        return None
    if record.fingerprint != print_:
        raise InvalidInput(
            "this Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
        )
    return StoredAnswer(record.status_code, record.response_body)


def reserve(session: Session, scope: str, key: str, print_: str) -> IdempotencyRecord:
    """Insert the key before doing the work.

    Flushed at once: on PostgreSQL a concurrent request with the same key
    blocks on the unique index until this transaction ends, then fails with
    IntegrityError, and its caller replays our stored answer.
    """
    record = IdempotencyRecord(scope=scope, key=key, fingerprint=print_)
    session.add(record)
    session.flush()
    return record


def store(session: Session, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    record.status_code = status_code
    record.response_body = body
    session.flush()
