from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.db import Base, UTCDateTime, utcnow


class WalletStatus(enum.StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    DELETED = "deleted"


class Wallet(Base):
    """A shopper's wallet: anonymous until its owner adds an e-mail address.

    The bearer token and the recovery code are stored as hashes only.
    """

    __tablename__ = "wallets"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    recovery_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=WalletStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Personal data, all optional and erasable; statistics fields need consent.
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    stats_consent: Mapped[bool] = mapped_column(default=False)
    home_postcode: Mapped[str | None] = mapped_column(sa.String(4))
    home_village: Mapped[str | None] = mapped_column(sa.String(100))
    age_band: Mapped[str | None] = mapped_column(sa.String(10))

    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'frozen', 'deleted')", name="status_known"),
    )
