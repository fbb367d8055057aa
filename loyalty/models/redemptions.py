from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class RedemptionStatus(enum.StrEnum):
    HELD = "held"  # points on hold, code valid until expires_at
    CONFIRMED = "confirmed"  # a shop gave the discount; points are the shop's
    RELEASED = "released"  # expired or cancelled; points back in the wallet


class Redemption(Base):
    """Points, euros or both on hold behind a one-time code that any approved shop
    may confirm (or a voucher, that only its shop may confirm)."""

    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    # Eight digits, short enough to type at the till; unique for all time so an
    # old code can never confirm a new hold.
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    points: Mapped[int] = mapped_column()
    # Town money on the same code (loyalty.money.euros): included in discount_cents.
    euro_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    discount_cents: Mapped[int] = mapped_column()
    # A voucher instead of points: only the voucher's shop may confirm it.
    voucher_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vouchers.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=RedemptionStatus.HELD)
    release_reason: Mapped[str | None] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merchant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    hold_transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), unique=True
    )
    finish_transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), unique=True
    )

    __table_args__ = (
        sa.CheckConstraint("status IN ('held', 'confirmed', 'released')", name="status_known"),
        sa.CheckConstraint(
            "(points >= 0 AND euro_cents >= 0 AND points + euro_cents > 0"
            " AND voucher_id IS NULL)"
            " OR (points = 0 AND euro_cents = 0 AND voucher_id IS NOT NULL)",
            name="points_or_voucher",
        ),
        sa.CheckConstraint(
            "(status = 'confirmed') = (merchant_id IS NOT NULL)", name="confirmed_has_merchant"
        ),
    )


class SpendCodeMiss(Base):
    """A spend code that a till looked up and that does not exist, kept a day.

    Codes have eight digits: a till that may guess without end finds live
    ones. The misses are counted in the database rather than in a worker's
    memory, so the limit holds across every worker process (loyalty.spending.redemptions).
    """

    __tablename__ = "spend_code_misses"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"))
    # The till key that asked; None for the shop portal's till page.
    till_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("till_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_spend_code_misses_merchant_id_at", "merchant_id", "at"),
        sa.Index("ix_spend_code_misses_till_key_id_at", "till_key_id", "at"),
    )
