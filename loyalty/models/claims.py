from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class ClaimStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CANCELLED = "cancelled"
    # "expired" is never stored: an open claim past expires_at *is* expired.


class Claim(Base):
    """The points of one sale, waiting to be collected by one wallet."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    till_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("till_keys.id"))
    # SHA-256 of the 256-bit token in the QR code: a leaked table claims nothing.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount_cents: Mapped[int] = mapped_column()
    points: Mapped[int] = mapped_column()
    stamps: Mapped[int] = mapped_column(default=0, server_default="0")
    stamp_card_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stamp_cards.id"))
    status: Mapped[str] = mapped_column(sa.String(10), default=ClaimStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wallet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), unique=True
    )

    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'claimed', 'cancelled')", name="status_known"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_non_negative"),
        sa.CheckConstraint("points >= 0", name="points_non_negative"),
        sa.CheckConstraint("points > 0 OR stamps > 0", name="gives_something"),
        sa.CheckConstraint(
            "(stamps > 0) = (stamp_card_id IS NOT NULL)", name="stamps_have_a_card"
        ),
        # A claimed claim names its wallet; an open or cancelled one does not.
        sa.CheckConstraint(
            "(status = 'claimed') = (wallet_id IS NOT NULL)",
            name="claimed_has_wallet",
        ),
    )


class SaleCorrection(Base):
    """A collected sale that its shop took back: at most one per sale (the unique
    key), with the points the wallet still had taken back and the rest, already
    spent, left as the shop's loss."""

    __tablename__ = "sale_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claims.id"), unique=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    # None when nothing could be taken back (the wallet was empty).
    transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), unique=True
    )
    points_taken_back: Mapped[int] = mapped_column()
    points_not_recovered: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(200))
    staff_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("points_taken_back >= 0", name="taken_back_non_negative"),
        sa.CheckConstraint("points_not_recovered >= 0", name="not_recovered_non_negative"),
    )


class OfflineClaim(Base):
    """A claim code handed to a till in advance, for sales while its internet is down.

    It has no amount until the till sends the sale (``recorded_at``); only then is
    a real claim made, with the same token hash, for the shopper's phone to
    collect. Bound to its shop and to the till (a random id the till page keeps)
    that asked for it, and valid for sales until ``expires_at``.
    """

    __tablename__ = "offline_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"))
    till: Mapped[str] = mapped_column(sa.String(64))
    # SHA-256 of the token in the QR code, as for claims: the table alone claims nothing.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount_cents: Mapped[int | None] = mapped_column()
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The one guard of recording sets all three at once, or none.
        sa.CheckConstraint(
            "(recorded_at IS NULL) = (amount_cents IS NULL)"
            " AND (recorded_at IS NULL) = (sold_at IS NULL)",
            name="recorded_whole",
        ),
        sa.CheckConstraint("amount_cents IS NULL OR amount_cents > 0", name="amount_positive"),
        sa.Index("ix_offline_claims_merchant_id_till", "merchant_id", "till"),
    )
