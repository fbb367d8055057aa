"""A generated month of earns and redemptions for the settlement tests, posted in bulk.

Through the same ledger shapes as loyalty.earning.claims and loyalty.spending.redemptions
(points legs plus loyalty.money.accounts's euro legs), but inserted with executemany
and the cached balances moved once per account, so 10,000 flows take seconds.
`loyalty ledger verify` must pass on the result.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from schwifty import IBAN
from sqlalchemy.orm import Session

from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    MerchantStatus,
    Posting,
    Scheme,
)
from loyalty.money import accounts, ledger
from loyalty.shoppers import wallets
from loyalty.town import schemes


def iban_for(n: int) -> str:
    return str(IBAN.generate("BE", bank_code="001", account_code=f"{n:07d}").compact)


@dataclass
class Month:
    scheme: Scheme
    merchants: list[Merchant]
    # What the test expects, computed while generating: cents per shop id.
    issued: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    redeemed: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    flows: int = 0


@dataclass
class _Txn:
    kind: str
    at: datetime
    legs: list[tuple[Account, int]]
    point_value: int | None


def make_shops(session: Session, scheme: Scheme, n: int) -> list[Merchant]:
    shops = []
    for i in range(n):
        merchant = schemes.create_merchant(
            session, scheme, name=f"Winkel {i} Sint-Gillis", sector="47.24", postcode="9170",
            email=f"shop{scheme.id}-{i}@example.be", status=MerchantStatus.APPROVED,
        )
        shops.append(merchant)
    session.commit()
    return shops


def post_bulk(session: Session, scheme_id: int, txns: list[_Txn]) -> None:
    """Insert transactions and postings with executemany; move each balance once."""
    if not txns:
        return
    ids = session.scalars(
        sa.insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True),
        [
            {"scheme_id": scheme_id, "kind": t.kind, "created_at": t.at,
             "point_value_cents": t.point_value}
            for t in txns
        ],
    ).all()
    rows = []
    moves: dict[int, int] = defaultdict(int)
    for txn_id, txn in zip(ids, txns, strict=True):
        for account, amount in txn.legs:
            rows.append({"transaction_id": txn_id, "account_id": account.id,
                         "asset": account.asset, "amount": amount})
            moves[account.id] += amount
    session.execute(sa.insert(Posting), rows)
    for account_id in sorted(moves):
        session.execute(
            sa.update(Account).where(Account.id == account_id)
            .values(balance=Account.balance + moves[account_id])
        )
    session.commit()


def generate_month(
    session: Session,
    scheme: Scheme,
    merchants: list[Merchant],
    start: datetime,
    flows: int,
    *,
    wallets_count: int = 40,
    seed: int = 7,
) -> Month:
    """``flows`` earns and redemptions spread over 28 days from ``start``."""
    rng = random.Random(seed)
    pv = scheme.point_value_cents
    month = Month(scheme, merchants)
    owned = [wallets.create_wallet(session, scheme).wallet for _ in range(wallets_count)]
    session.commit()
    wallet_accounts = [wallets.points_account(session, w) for w in owned]
    holds = ledger.account(session, scheme.id, AccountKind.HOLDS, Asset.POINTS,
                               ledger.SCHEME_OWNER)
    liability = accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY)
    per_shop = {
        m.id: {
            "issued": ledger.account(session, scheme.id, AccountKind.MERCHANT_ISSUED,
                                         Asset.POINTS, ledger.merchant_owner(m.id)),
            "redeemed": ledger.account(session, scheme.id, AccountKind.MERCHANT_REDEEMED,
                                           Asset.POINTS, ledger.merchant_owner(m.id)),
            "position": accounts.merchant_account(session, scheme.id, m.id,
                                                 AccountKind.MERCHANT_POSITION),
        }
        for m in merchants
    }
    balances = [0] * len(owned)
    txns: list[_Txn] = []
    step = timedelta(days=28) / flows
    # A quarter of the shops take most of the redemptions, so that some shops
    # are owed money and the others owe.
    takers = merchants[: max(1, len(merchants) // 4)]
    for i in range(flows):
        at = start + step * i
        w = rng.randrange(len(owned))
        redeem = balances[w] >= 20 and rng.random() < 0.5
        shop = rng.choice(takers if redeem and rng.random() < 0.8 else merchants)
        shop_accounts = per_shop[shop.id]
        if redeem:
            points = rng.randint(1, min(balances[w], 60))
            balances[w] -= points
            value = points * pv
            txns.append(_Txn("hold", at, [(wallet_accounts[w], -points), (holds, points)], None))
            txns.append(_Txn("redeem", at + timedelta(seconds=1), [
                (holds, -points), (shop_accounts["redeemed"], points),
                (liability, -value), (shop_accounts["position"], value),
            ], pv))
            month.redeemed[shop.id] += value
        else:
            points = rng.randint(1, 100)
            balances[w] += points
            value = points * pv
            txns.append(_Txn("earn", at, [
                (shop_accounts["issued"], -points), (wallet_accounts[w], points),
                (shop_accounts["position"], -value), (liability, value),
            ], pv))
            month.issued[shop.id] += value
        month.flows += 1
    post_bulk(session, scheme.id, txns)
    return month


def prepay(session: Session, scheme: Scheme, merchant: Merchant, cents: int,
           at: datetime) -> None:
    """A prepayment as the Stripe/bank branch posts it: cash -x, prepaid +x."""
    post_bulk(session, scheme.id, [_Txn("prepayment", at, [
        (accounts.scheme_account(session, scheme.id, AccountKind.CASH, accounts.BANK), -cents),
        (accounts.merchant_account(session, scheme.id, merchant.id, AccountKind.MERCHANT_PREPAID),
         cents),
    ], None)])


def earn(session: Session, scheme: Scheme, merchant: Merchant, points: int,
         at: datetime) -> int:
    """One earn into a fresh wallet, dated ``at``; returns its euro value."""
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    value = points * scheme.point_value_cents
    post_bulk(session, scheme.id, [_Txn("earn", at, [
        (ledger.account(session, scheme.id, AccountKind.MERCHANT_ISSUED, Asset.POINTS,
                            ledger.merchant_owner(merchant.id)), -points),
        (wallets.points_account(session, wallet), points),
        (accounts.merchant_account(session, scheme.id, merchant.id, AccountKind.MERCHANT_POSITION),
         -value),
        (accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY), value),
    ], scheme.point_value_cents)])
    return value


def earn_and_redeem(session: Session, scheme: Scheme, issuer: Merchant, redeemer: Merchant,
                    points: int, at: datetime) -> int:
    """Points earned at ``issuer`` and all spent at ``redeemer``; returns their euro value."""
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    pv = scheme.point_value_cents
    value = points * pv
    wallet_account = wallets.points_account(session, wallet)
    holds = ledger.account(session, scheme.id, AccountKind.HOLDS, Asset.POINTS,
                               ledger.SCHEME_OWNER)
    liability = accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY)

    def account(kind: AccountKind, merchant: Merchant) -> Account:
        if kind == AccountKind.MERCHANT_POSITION:
            return accounts.merchant_account(session, scheme.id, merchant.id, kind)
        return ledger.account(session, scheme.id, kind, Asset.POINTS,
                                  ledger.merchant_owner(merchant.id))

    post_bulk(session, scheme.id, [
        _Txn("earn", at, [
            (account(AccountKind.MERCHANT_ISSUED, issuer), -points), (wallet_account, points),
            (account(AccountKind.MERCHANT_POSITION, issuer), -value), (liability, value),
        ], pv),
        _Txn("hold", at, [(wallet_account, -points), (holds, points)], None),
        _Txn("redeem", at, [
            (holds, -points), (account(AccountKind.MERCHANT_REDEEMED, redeemer), points),
            (liability, -value), (account(AccountKind.MERCHANT_POSITION, redeemer), value),
        ], pv),
    ])
    return value
