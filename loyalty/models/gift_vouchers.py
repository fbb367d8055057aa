"""Bought town money: gift vouchers (cadeaubonnen), wallet top-ups, company orders.

Each is credited exactly once by a unique key: a Stripe Checkout Session id
(on the voucher it paid, or on the wallet's euro credit of a top-up), the
voucher itself on the euro credit of its redemption, and an order's
``paid_at`` set by a conditional UPDATE when its bank transfer is recorded.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class GiftVoucherSource(enum.StrEnum):
    STRIPE = "stripe"  # one voucher bought by Stripe Checkout
    ORDER = "order"  # one of a company order's, paid by bank transfer


class GiftVoucherOrder(Base):
    """A company's order of many vouchers, paid by bank transfer against an invoice.

    ``paid_at`` is set once (``UPDATE ... WHERE paid_at IS NULL``): the admin
    who sets it issues the codes; anyone else recording the same transfer
    finds it paid.
    """

    __tablename__ = "gift_voucher_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    company_name: Mapped[str] = mapped_column(sa.String(200))
    vat_number: Mapped[str] = mapped_column(sa.String(20))
    email: Mapped[str] = mapped_column(sa.String(254))
    quantity: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column()
    # The invoice's Belgian structured communication, twelve digits.
    reference: Mapped[str] = mapped_column(sa.String(12), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bank_reference: Mapped[str | None] = mapped_column(sa.String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id"))

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    @property
    def total_cents(self) -> int:
        return self.quantity * self.amount_cents


class GiftVoucher(Base):
    """A code worth euros, paid for and not yet (or already) redeemed.

    Redeeming it is ``UPDATE ... WHERE redeemed_at IS NULL``, so one wallet
    (or one shop's till) wins when several try the same code at once.
    """

    __tablename__ = "gift_vouchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    amount_cents: Mapped[int] = mapped_column()
    source: Mapped[str] = mapped_column(sa.String(20))
    # Unique: a paid Checkout Session makes at most one voucher.
    stripe_session_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("gift_voucher_orders.id"), index=True
    )
    recipient_email: Mapped[str | None] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_wallet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wallets.id"))
    redeemed_merchant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("merchants.id"))
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id"))

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_creation"),
    )
