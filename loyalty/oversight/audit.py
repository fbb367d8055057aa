"""The audit log: every administrative action, in the same transaction as the action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import AuditEntry, FraudFlag, Merchant, Scheme, StaffUser, Wallet

# Words that never belong in an audit entry's details: the log is read by
# every admin, and a secret in it would outlive any rotation.
SECRET_WORDS = frozenset({"password", "token", "secret", "hash", "recovery", "pin"})
CLI_ACTOR = "command line"
PAGE_SIZE = 100

Target = Merchant | StaffUser | Wallet | FraudFlag | Scheme


def _describe(target: Target) -> tuple[str, str | None]:
    """The target's type and a label an admin recognises (never personal data of a shopper)."""
    if isinstance(target, Merchant):
        return "merchant", target.name
    if isinstance(target, StaffUser):
        return "staff_user", target.email
    if isinstance(target, Wallet):
        return "wallet", f"wallet #{target.id}"
    if isinstance(target, FraudFlag):
        return "fraud_flag", f"flag #{target.id} ({target.rule})"
    return "scheme", target.name


def _check_no_secrets(details: dict[str, Any]) -> None:
    for key, value in details.items():
        if SECRET_WORDS & set(key.lower().split("_")):
            raise ValueError(f"audit details must not carry secrets ({key!r})")
        if isinstance(value, dict):
            _check_no_secrets(value)


def record(
    session: Session,
    actor: StaffUser | None,
    action: str,
    target: Target,
    details: dict[str, Any] | None = None,
    *,
    scheme_id: int | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (``actor`` None: the command line).

    Raises ValueError (a programming error) when ``details`` names a secret.
    """
    details = details or {}
    _check_no_secrets(details)
    target_type, label = _describe(target)
    if scheme_id is None:
        scheme_id = target.id if isinstance(target, Scheme) else target.scheme_id
    entry = AuditEntry(
        scheme_id=scheme_id,
        actor_id=actor.id if actor else None,
        actor_label=actor.email if actor else CLI_ACTOR,
        action=action,
        target_type=target_type,
        target_id=target.id,
        target_label=label,
        details=details,
        at=now or utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor_id: int | None = None
    target_type: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive


def entries(
    session: Session, scheme_id: int, where: AuditFilter, *, limit: int = PAGE_SIZE
) -> list[AuditEntry]:
    """A scheme's audit entries, newest first, filtered (dates are UTC days)."""
    stmt = sa.select(AuditEntry).where(AuditEntry.scheme_id == scheme_id)
    if where.action:
        stmt = stmt.where(AuditEntry.action == where.action)
    if where.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == where.actor_id)
    if where.target_type:
        stmt = stmt.where(AuditEntry.target_type == where.target_type)
    if where.since:
        stmt = stmt.where(AuditEntry.at >= _start_of(where.since))
    if where.until:
        stmt = stmt.where(AuditEntry.at < _start_of(where.until + timedelta(days=1)))
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def actions_used(session: Session, scheme_id: int) -> list[str]:
    """The actions that occur in a scheme's log, for the filter's choices."""
    return list(
        session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.scheme_id == scheme_id)
            .distinct()
            .order_by(AuditEntry.action)
        )
    )
