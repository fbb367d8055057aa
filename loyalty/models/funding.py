from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class FundingMethod(enum.StrEnum):
    STRIPE = "stripe"  # Stripe Checkout: card or Bancontact
    BANK = "bank"  # a bank transfer to the municipality, recorded by its admin


class Prepayment(Base):
    """Money a shop paid in advance, credited to its prepaid balance once.

    The unique (scheme, method, reference) key is what makes a payment count
    once: Stripe's Checkout Session id, or the bank's reference of a transfer.
    Stripe retrying a webhook, two deliveries at once, or an admin recording
    the same transfer twice all meet the same row, whatever the code does.
    """

    __tablename__ = "prepayments"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(20))
    reference: Mapped[str] = mapped_column(sa.String(200))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), unique=True
    )
    # The admin who recorded a bank transfer; None for Stripe.
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (
        sa.UniqueConstraint("scheme_id", "method", "reference"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("method IN ('stripe', 'bank')", name="method_known"),
    )
