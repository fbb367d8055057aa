from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class GrantWho(enum.StrEnum):
    ANYONE = "anyone"  # anyone with the link
    CODE = "code"  # holders of a one-time code the municipality hands out
    VILLAGES = "villages"  # wallets whose home village is one of the grant's villages


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
    # For who == "villages": the scheme's villages whose residents may claim.
    villages: Mapped[list[Any]] = mapped_column(sa.JSON, default=list, server_default="[]")
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("budget_cents >= amount_cents", name="budget_covers_one"),
    )


class GrantCode(Base):
    """A one-time code of a grant for holders of a code: only its hash is kept.

    Using it is a conditional UPDATE (``WHERE used_at IS NULL``) in the claim's
    savepoint, so two wallets typing one code at once get one credit.
    """

    __tablename__ = "grant_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_by: Mapped[int | None] = mapped_column(sa.ForeignKey("wallets.id"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SocialCode(Base):
    """A one-time code of the social service: the wallet that enters it is
    entitled to the social tariff until ``entitled_until`` (included).

    No name and no reason are stored: only the code's hash, the date, and the
    wallet once it is used (a conditional UPDATE, so one code entitles one wallet).
    """

    __tablename__ = "social_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    entitled_until: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_by: Mapped[int | None] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EuroSource(enum.StrEnum):
    GRANT = "grant"
    SOCIAL = "social"  # the social tariff's monthly amount
    TOP_UP = "top_up"  # paid into the wallet by Stripe Checkout
    VOUCHER = "voucher"  # a gift voucher's code redeemed into the wallet


class EuroCredit(Base):
    """One part of a wallet's euros: where it came from and when it expires.

    The unique (grant, wallet) key makes a grant claimable once per wallet,
    also when one wallet claims twice at the same moment; the unique (wallet,
    social month) key does the same for the social tariff's monthly amount, and
    the unique Checkout Session and voucher keys credit a top-up and a voucher once.
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
    # The social tariff's month (its 1st day): unique per wallet, so two runs of
    # the monthly job credit a wallet once.
    social_month: Mapped[date | None] = mapped_column(sa.Date)
    # Unique: a top-up's Checkout Session credits once, a voucher is redeemed once.
    stripe_session_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    gift_voucher_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("gift_vouchers.id"), unique=True
    )

    __table_args__ = (
        sa.UniqueConstraint("grant_id", "wallet_id"),
        sa.UniqueConstraint("wallet_id", "social_month"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("expires_at > credited_at", name="expires_after_credit"),
    )


class EuroCreditNotice(Base):
    """A part of a wallet's euros that expired on a day, or the reminder that it soon will.

    Unique per part, kind and day: the database refuses a second expiry of a
    part on the same day (two runs of the expiry at once expire it once) and,
    as a reminder is dated the part's expiry day, a second reminder of a part.
    A later day can expire what came back to the part meanwhile (a spend code
    that held its euros and was not used).
    """

    __tablename__ = "euro_credit_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    credit_id: Mapped[int] = mapped_column(sa.ForeignKey("euro_credits.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # "expired" or "reminder"
    on_date: Mapped[date] = mapped_column(sa.Date)
    cents: Mapped[int] = mapped_column()
    transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("credit_id", "kind", "on_date"),
        sa.CheckConstraint("cents > 0", name="cents_positive"),
    )
