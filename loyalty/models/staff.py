from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.infra.db import Base, UTCDateTime, utcnow


class Role(enum.StrEnum):
    MUNICIPALITY_ADMIN = "municipality_admin"
    MUNICIPALITY_ANALYST = "municipality_analyst"
    MERCHANT_OWNER = "merchant_owner"
    CASHIER = "cashier"


class StaffUser(Base):
    """A person of the municipality or of a shop who signs in."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    merchant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(30))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Two-factor sign-in (loyalty.access.totp). The secret is kept as it is: checking a
    # code needs it, and a hash cannot give it back. It is set when enrolment
    # starts and counts only once totp_enrolled_at is set (a first code was right).
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time step of the last code accepted: a code is good once.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    sessions: Mapped[list[StaffSession]] = relationship(back_populates="user")

    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('municipality_admin', 'municipality_analyst', 'merchant_owner', 'cashier')",
            name="role_known",
        ),
        # Shop roles belong to a shop; municipality roles do not.
        sa.CheckConstraint(
            "(role IN ('merchant_owner', 'cashier')) = (merchant_id IS NOT NULL)",
            name="merchant_matches_role",
        ),
    )


class StaffSession(Base):
    """A revocable server-side session: a web login or an API token.

    Only a SHA-256 of the bearer secret is kept; the secret has 256 bits of
    entropy, so a slow password hash would add nothing.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(10), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[StaffUser] = relationship(back_populates="sessions")


class TillKey(Base):
    """An API key with which a till acts as one shop's cashier."""

    __tablename__ = "till_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters, so an owner can tell keys apart without seeing them.
    prefix: Mapped[str] = mapped_column(sa.String(12))
    label: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A failed staff login, kept a day to slow down password guessing.

    In the database rather than in a worker's memory, so the limit holds
    across every worker process and server.
    """

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str] = mapped_column(sa.String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_login_failures_email_at", "email", "at"),
        sa.Index("ix_login_failures_ip_at", "ip", "at"),
    )


class RecoveryCode(Base):
    """A one-time code to sign in without the phone; only its SHA-256 is kept.

    Sixteen characters from 32 symbols are 80 random bits: a slow hash would add nothing.
    """

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash"),)


class TrustedDevice(Base):
    """A browser on which a staff member skips the code for 30 days (its cookie, hashed)."""

    __tablename__ = "staff_trusted_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
