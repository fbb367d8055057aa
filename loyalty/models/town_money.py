from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class GrantWho(enum.StrEnum):
    ANYONE = "anyone"  # anyone with the link


class Grant(Base):
    """A grant programme: euros from the municipality, a fixed amount per wallet,
    claimable once per wallet between two moments, from a capped budget.

    The budget lives in the ledger (a grant_budget account in euro cents owned
    by "grant:<id>", which may never go below zero): what is granted is read
    from there, so the cap holds under any number of concurrent claims.
    """

    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    amount_cents: Mapped[int] = mapped_column()
    budget_cents: Mapped[int] = mapped_column(sa.BigInteger)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    who: Mapped[str] = mapped_column(sa.String(20), default=GrantWho.ANYONE.value)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("budget_cents >= amount_cents", name="budget_covers_one"),
    )


class EuroSource(enum.StrEnum):
    GRANT = "grant"
    TOP_UP = "top_up"  # paid into the wallet by Stripe Checkout
    VOUCHER = "voucher"  # a gift voucher's code redeemed into the wallet


class EuroCredit(Base):
    """One part of a wallet's euros: where it came from and when it expires.

    The unique (grant, wallet) key makes a grant claimable once per wallet,
    also when one wallet claims twice at the same moment; the unique Checkout
    Session and voucher keys credit a top-up and a voucher once.
    """

    __tablename__ = "euro_credits"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(20))
    grant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grants.id"), index=True)
    amount_cents: Mapped[int] = mapped_column()
    credited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id"))
    # Unique: a top-up's Checkout Session credits once, a voucher is redeemed once.
    stripe_session_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    gift_voucher_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("gift_vouchers.id"), unique=True
    )

    __table_args__ = (
        sa.UniqueConstraint("grant_id", "wallet_id"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("expires_at > credited_at", name="expires_after_credit"),
    )
