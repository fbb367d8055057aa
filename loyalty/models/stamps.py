from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class StampCard(Base):
    """A shop's stamp card: "10 coffees, the 11th free". Its stamps are a ledger asset."""

    __tablename__ = "stamp_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    stamps_needed: Mapped[int] = mapped_column()
    reward: Mapped[str] = mapped_column(sa.String(200))
    # Days a voucher stays valid after the card fills up; None: no end.
    voucher_valid_days: Mapped[int | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("stamps_needed BETWEEN 2 AND 50", name="stamps_needed_range"),
        sa.CheckConstraint(
            "voucher_valid_days IS NULL OR voucher_valid_days > 0", name="validity_positive"
        ),
    )

    @property
    def asset(self) -> str:
        return stamp_asset(self.id)


def stamp_asset(card_id: int) -> str:
    return f"stamps:{card_id}"


class VoucherStatus(enum.StrEnum):
    AVAILABLE = "available"
    HELD = "held"  # behind an open spend code
    USED = "used"


class Voucher(Base):
    """The reward of a full stamp card, spendable at that card's shop only."""

    __tablename__ = "vouchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    stamp_card_id: Mapped[int] = mapped_column(sa.ForeignKey("stamp_cards.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"))
    status: Mapped[str] = mapped_column(sa.String(10), default=VoucherStatus.AVAILABLE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The transaction that retired the card's stamps into this voucher.
    transaction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), unique=True
    )

    __table_args__ = (
        sa.CheckConstraint("status IN ('available', 'held', 'used')", name="status_known"),
    )
