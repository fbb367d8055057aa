from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class WalletStatus(enum.StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    DELETED = "deleted"


class WalletGroup(Base):
    """The wallets one phone keeps, one per scheme: a recovery code or e-mail
    address of any of them opens them all on a new phone.

    Only the shopper's own pages read it; no report or municipality sees it.
    """

    __tablename__ = "wallet_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    # The number in the card QR a phone's wallet shows the till (12 digits, the
    # printed cards' kind); made on first use. A printed card's wallet uses its card's.
    card_number: Mapped[str | None] = mapped_column(sa.String(12), unique=True)
    # The phone's other wallets (other towns); None for a phone with one wallet.
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wallet_groups.id"), index=True)

    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'frozen', 'deleted')", name="status_known"),
    )


class ExpiryNotice(Base):
    """Points that expired from a wallet on a day, or a reminder that some soon will.

    Unique per wallet, kind and day: the database refuses a second expiry of
    the same day (or a second reminder of the same month, dated the 1st), so
    two runs of ``loyalty expire`` cannot expire or remind twice.
    """

    __tablename__ = "expiry_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # "expired" or "reminder"
    on_date: Mapped[date] = mapped_column(sa.Date)
    points: Mapped[int] = mapped_column()
    transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("wallet_id", "kind", "on_date"),)
