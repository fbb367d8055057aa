from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class Settlement(Base):
    """A locked month of a scheme: what each shop gave and took, and what was paid.

    Unique per (scheme, period): of two settlements racing for the same month
    the database keeps one. The ledger transactions it took carry its id.
    """

    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    period: Mapped[str] = mapped_column(sa.String(7))  # "2026-11"
    # The month in the scheme's time zone, as UTC instants: [starts_at, ends_at).
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The SEPA credit-transfer file (pain.001.001.03), kept as made: a bank
    # file must not change when it is downloaded again.
    sepa_xml: Mapped[str | None] = mapped_column(sa.Text)
    sepa_transfers: Mapped[int] = mapped_column(default=0)
    control_sum_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.UniqueConstraint("scheme_id", "period"),)


class PayoutMethod:
    SEPA = "sepa"
    STRIPE = "stripe"
    NONE = "none"  # nothing to pay, or no bank account known: the position stays open


class SettlementLine(Base):
    """One shop's row of a settlement (its statement's totals)."""

    __tablename__ = "settlement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(sa.ForeignKey("settlements.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    issued_cents: Mapped[int] = mapped_column(sa.BigInteger)
    redeemed_cents: Mapped[int] = mapped_column(sa.BigInteger)
    fees_cents: Mapped[int] = mapped_column(sa.BigInteger)
    # redeemed - issued - fees: > 0 the scheme pays the shop, < 0 the shop pays.
    net_cents: Mapped[int] = mapped_column(sa.BigInteger)
    # What earlier settlements left open for the shop (> 0 not yet paid to it,
    # < 0 not yet paid by it); it is paid or collected together with this month.
    carried_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    prepaid_applied_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    payout_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # What the shop still owes (carried + net) after its prepaid money: asked for by e-mail.
    collect_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    payout_method: Mapped[str] = mapped_column(sa.String(10), default=PayoutMethod.NONE)
    # Belgian structured communication, 12 digits (shown as +++XXX/XXXX/XXXXX+++).
    reference: Mapped[str] = mapped_column(sa.String(12))
    # The bank account the payout went to, as it was at settlement time.
    iban: Mapped[str | None] = mapped_column(sa.String(34))
    bic: Mapped[str | None] = mapped_column(sa.String(11))
    account_holder: Mapped[str | None] = mapped_column(sa.String(70))
    stripe_transfer_id: Mapped[str | None] = mapped_column(sa.String(255))
    # Part of the transfer's idempotency key: raised when Stripe answers with a
    # refusal, which it keeps under that key, so the next try is a new request.
    stripe_attempt: Mapped[int] = mapped_column(default=0)
    payment_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("settlement_id", "merchant_id"),
        sa.CheckConstraint("net_cents = redeemed_cents - issued_cents - fees_cents",
                           name="net_adds_up"),
        sa.CheckConstraint("payout_method IN ('sepa', 'stripe', 'none')", name="method_known"),
    )
