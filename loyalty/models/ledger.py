from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.infra.db import Base, UTCDateTime, utcnow


class Asset(enum.StrEnum):
    POINTS = "points"
    EUR_CENTS = "eur_cents"
    # Town money: euro cents a shopper holds in the wallet (gift vouchers,
    # grants). Its own asset, so the shoppers' euros balance among themselves
    # and their backing (the euros liability, in eur_cents) is reconciled apart.
    EUROS = "euros"
    # Each stamp card's stamps are an asset of their own: "stamps:<card id>".


class AccountKind(enum.StrEnum):
    WALLET = "wallet"  # a shopper's points
    HOLDS = "holds"  # points set aside for open redemption codes, one per scheme
    MERCHANT_ISSUED = "merchant_issued"  # the source of points a shop gives
    MERCHANT_REDEEMED = "merchant_redeemed"  # points a shop took as payment; stamps retired
    BREAKAGE = "breakage"  # expired or forfeited points (and their euro value), kept by the scheme
    # The euro side (asset eur_cents). A balance is what the scheme owes the
    # account's owner: see loyalty.money.accounts for the postings of each flow.
    POINTS_LIABILITY = "points_liability"  # the euro value of points in wallets and holds
    MERCHANT_POSITION = "merchant_position"  # > 0: the scheme owes the shop; < 0: the shop owes
    MERCHANT_PREPAID = "merchant_prepaid"  # money a shop paid in advance, not yet applied
    CAMPAIGN_BUDGET = "campaign_budget"  # what is left of a campaign's budget
    # The source of a campaign's bonus points (asset points, owner "campaign:<id>"):
    # minus its balance is the bonus points the campaign gave.
    CAMPAIGN_ISSUED = "campaign_issued"
    MUNICIPALITY = "municipality"  # the municipality's contributions (campaign budgets)
    CASH = "cash"  # money in (negative) and out, one per channel: "cash:stripe", "cash:bank"
    FEES = "fees"  # fees the scheme charged its shops at settlement
    # Town money (see loyalty.money.town_money). Wallets hold it in a wallet
    # account of asset "euros"; a shop takes it into its merchant_redeemed
    # account of that asset; expired euros go to the scheme's breakage.
    EUROS_ISSUED = "euros_issued"  # asset euros, scheme: minus its balance is all euros issued
    EUROS_LIABILITY = "euros_liability"  # eur_cents: what the scheme owes for euros held
    GRANT_BUDGET = "grant_budget"  # eur_cents, "grant:<id>": what is left of a grant's budget
    # The social tariff (loyalty.money.social): what is left of its budget (eur_cents,
    # owner "scheme"), and the source of its extra points (points, owner "scheme").
    SOCIAL_BUDGET = "social_budget"
    SOCIAL_ISSUED = "social_issued"
    # eur_cents, scheme: money paid for gift vouchers whose code nobody redeemed yet.
    VOUCHERS = "vouchers"


# Accounts that hold value on behalf of someone can never go negative. The
# database enforces it (CHECK below) besides the conditional UPDATE in
# loyalty.money.ledger, so no code path and no race can overdraw them.
NON_NEGATIVE_KINDS = (
    AccountKind.WALLET,
    AccountKind.HOLDS,
    AccountKind.MERCHANT_PREPAID,
    AccountKind.CAMPAIGN_BUDGET,
    AccountKind.GRANT_BUDGET,
    AccountKind.SOCIAL_BUDGET,
    AccountKind.VOUCHERS,
)
NON_NEGATIVE_CHECK = "kind NOT IN ({}) OR balance >= 0".format(
    ", ".join(f"'{kind.value}'" for kind in NON_NEGATIVE_KINDS)
)


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
        sa.CheckConstraint(NON_NEGATIVE_CHECK, name="balance_non_negative"),
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
    # The euro value of one point that this transaction's euro postings used
    # (set when points enter or leave circulation): `loyalty ledger verify`
    # checks every such transaction's euro legs against its point legs.
    point_value_cents: Mapped[int | None] = mapped_column()
    # The settlement that took this transaction into its month (metadata: the
    # postings never change). Set once, by a conditional UPDATE ... WHERE
    # settlement_id IS NULL, so a transaction is settled exactly once; one
    # committed after its month was locked falls into the next settlement.
    settlement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("settlements.id"), index=True
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
