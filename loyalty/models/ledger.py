from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.db import Base, UTCDateTime, utcnow


class Asset(enum.StrEnum):
    POINTS = "points"
    EUR_CENTS = "eur_cents"
    # Each stamp card's stamps are an asset of their own: "stamps:<card id>".


class AccountKind(enum.StrEnum):
    WALLET = "wallet"  # a shopper's points
    HOLDS = "holds"  # points set aside for open redemption codes, one per scheme
    MERCHANT_ISSUED = "merchant_issued"  # the source of points a shop gives
    MERCHANT_REDEEMED = "merchant_redeemed"  # points a shop took as payment; stamps retired
    BREAKAGE = "breakage"  # expired or forfeited points, kept by the scheme


# Accounts that hold value on behalf of someone can never go negative. The
# database enforces it (CHECK below) besides the conditional UPDATE in
# loyalty.ledger, so no code path and no race can overdraw them.
NON_NEGATIVE_KINDS = (AccountKind.WALLET, AccountKind.HOLDS)


class Account(Base):
    """A ledger account with a cached balance kept in the posting transaction."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    asset: Mapped[str] = mapped_column(sa.String(20))
    # "wallet:12", "merchant:3" or "scheme": one account per owner, kind and asset.
    owner_key: Mapped[str] = mapped_column(sa.String(40))
    wallet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    merchant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (
        sa.UniqueConstraint("scheme_id", "kind", "asset", "owner_key"),
        sa.CheckConstraint(
            "kind NOT IN ('wallet', 'holds') OR balance >= 0", name="balance_non_negative"
        ),
    )


class LedgerTransaction(Base):
    """A set of postings that sum to zero per asset; never edited, only reversed."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    memo: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Unique: a transaction is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), unique=True
    )

    postings: Mapped[list[Posting]] = relationship(back_populates="transaction")


class Posting(Base):
    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("ledger_transactions.id"), index=True
    )
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    asset: Mapped[str] = mapped_column(sa.String(20))
    amount: Mapped[int] = mapped_column(sa.BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="postings")

    __table_args__ = (sa.CheckConstraint("amount <> 0", name="amount_non_zero"),)
