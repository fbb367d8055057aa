from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One administrative action: who did what, when, to which object.

    Written in the same transaction as the action itself, so an action without
    its entry (or an entry for an action that was rolled back) cannot exist.
    Never a password, token or key in ``details``: loyalty.oversight.audit refuses them.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    # None for a command run on the server (the CLI has no signed-in user).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    # The e-mail address at the time: it stays readable if the address changes.
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(50))
    target_type: Mapped[str] = mapped_column(sa.String(30))
    target_id: Mapped[int | None] = mapped_column()
    target_label: Mapped[str | None] = mapped_column(sa.String(254))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.Index("ix_audit_entries_scheme_at", "scheme_id", "at"),)


class FlagStatus(enum.StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"  # looked at, nothing wrong (with a note)
    ACTED = "acted"  # the wallet was frozen or the shop suspended


class FraudFlag(Base):
    """A pattern worth a look, found by the daily check (loyalty.oversight.fraud).

    The evidence is counts only. A wallet is named by its internal id, which
    leads to no person: only an admin can act on it (freeze it).
    """

    __tablename__ = "fraud_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    rule: Mapped[str] = mapped_column(sa.String(40))
    # "wallet", "merchant" or "till_key", and that object's id.
    subject_type: Mapped[str] = mapped_column(sa.String(20))
    subject_id: Mapped[int] = mapped_column()
    # The shop involved (for every rule), so the page can name it and suspend it.
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"))
    day: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(300))
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(10), default=FlagStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    resolution: Mapped[str | None] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(1000))

    __table_args__ = (
        # The check may run any number of times a day: a pattern is flagged once.
        sa.UniqueConstraint("rule", "subject_type", "subject_id", "day"),
        sa.CheckConstraint("status IN ('open', 'dismissed', 'acted')", name="status_known"),
        sa.CheckConstraint(
            "subject_type IN ('wallet', 'merchant', 'till_key')", name="subject_known"
        ),
    )
