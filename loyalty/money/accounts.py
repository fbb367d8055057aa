"""The euro side of the ledger: who owes whom for the points, in euro cents.

Points are a promise of a discount, so every point that enters circulation is
paid for and every point that leaves it is paid out. The euro postings go in
the same ledger transaction as the point postings they price:

====================  =================================  ==============================
flow                  points                             euro cents (value = points x pv)
====================  =================================  ==============================
earn at shop S        S issued -p, wallet +p             S position -v, liability +v
redeem at shop R      holds -p, R redeemed +p            liability -v, R position +v
expiry / forfeit      wallet -p, breakage +p             liability -v, breakage +v
campaign bonus        campaign issued -p, wallet +p      campaign budget -v, liability +v
====================  =================================  ==============================

A euro account's balance is what the scheme owes its owner: a shop's position
is positive when the scheme owes the shop (it took more points than it gave)
and negative when the shop owes the scheme. The liability is the euro value of
every point still in wallets and holds. Cash accounts are the other side of
money that really moves (a shop's prepayment: cash -x, prepaid +x), so their
balance is minus what the scheme holds. ``loyalty ledger verify`` checks each
priced transaction: liability legs = points entering wallets and holds x pv,
and a shop's position legs = its issued and redeemed point legs x pv.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from loyalty.models import AccountKind, Asset
from loyalty.money import ledger

STRIPE = "cash:stripe"
BANK = "cash:bank"

SCHEME_ACCOUNTS: tuple[tuple[AccountKind, str], ...] = (
    (AccountKind.POINTS_LIABILITY, ledger.SCHEME_OWNER),
    (AccountKind.BREAKAGE, ledger.SCHEME_OWNER),
    (AccountKind.MUNICIPALITY, ledger.SCHEME_OWNER),
    (AccountKind.CASH, STRIPE),
    (AccountKind.CASH, BANK),
    (AccountKind.FEES, ledger.SCHEME_OWNER),
)
MERCHANT_ACCOUNTS = (AccountKind.MERCHANT_POSITION, AccountKind.MERCHANT_PREPAID)
# Town money (loyalty.money.euros): the scheme's accounts of the shoppers' euros.
SCHEME_EURO_ACCOUNTS: tuple[tuple[AccountKind, Asset], ...] = (
    (AccountKind.EUROS_LIABILITY, Asset.EUR_CENTS),
    (AccountKind.EUROS_ISSUED, Asset.EUROS),
    (AccountKind.BREAKAGE, Asset.EUROS),
    (AccountKind.HOLDS, Asset.EUROS),
)


def value_of(points: int, point_value_cents: int) -> int:
    """The euro cents that ``points`` are worth at a point value."""
    return points * point_value_cents


def open_scheme_accounts(session: Session, scheme_id: int) -> None:
    for kind, owner in SCHEME_ACCOUNTS:
        ledger.open_account(session, scheme_id, kind, Asset.EUR_CENTS, owner)
    for kind, asset in SCHEME_EURO_ACCOUNTS:
        ledger.open_account(session, scheme_id, kind, asset, ledger.SCHEME_OWNER)


def open_merchant_accounts(session: Session, scheme_id: int, merchant_id: int) -> None:
    owner = ledger.merchant_owner(merchant_id)
    for kind in MERCHANT_ACCOUNTS:
        ledger.open_account(
            session, scheme_id, kind, Asset.EUR_CENTS, owner, merchant_id=merchant_id
        )
    # The euros a shop takes from wallets (town money), beside the points it takes.
    ledger.open_account(
        session, scheme_id, AccountKind.MERCHANT_REDEEMED, Asset.EUROS, owner,
        merchant_id=merchant_id,
    )


def scheme_account(
    session: Session, scheme_id: int, kind: AccountKind, owner: str = ledger.SCHEME_OWNER
) -> ledger.AccountRef:
    return ledger.account(session, scheme_id, kind, Asset.EUR_CENTS, owner)


def fund_budget(
    session: Session, scheme_id: int, budget: ledger.AccountLike, cents: int, *,
    kind: str, memo: str, at: datetime,
) -> int:
    """Move euro cents from the municipality's account into a budget account (a
    campaign's, a grant's, the social tariff's): the one way a budget is filled.
    Spending from it is guarded by the ledger (a budget may not go below zero),
    so what the budget holds is the hard cap of what it can pay."""
    return ledger.post(
        session, scheme_id, kind,
        [ledger.Leg(scheme_account(session, scheme_id, AccountKind.MUNICIPALITY), -cents),
         ledger.Leg(budget, cents)],
        memo=memo, at=at,
    )


def merchant_account(
    session: Session, scheme_id: int, merchant_id: int, kind: AccountKind
) -> ledger.AccountRef:
    return ledger.account(
        session, scheme_id, kind, Asset.EUR_CENTS, ledger.merchant_owner(merchant_id)
    )


def earn_legs(
    session: Session, scheme_id: int, merchant_id: int, points: int, point_value_cents: int
) -> list[ledger.Leg]:
    """The issuing shop owes the value of the points it gave."""
    value = value_of(points, point_value_cents)
    if not value:
        return []
    return [
        ledger.Leg(
            merchant_account(session, scheme_id, merchant_id, AccountKind.MERCHANT_POSITION),
            -value,
        ),
        ledger.Leg(scheme_account(session, scheme_id, AccountKind.POINTS_LIABILITY), value),
    ]


def redeem_legs(
    session: Session, scheme_id: int, merchant_id: int, discount_cents: int
) -> list[ledger.Leg]:
    """The scheme owes the redeeming shop the discount it gave."""
    if not discount_cents:
        return []
    return [
        ledger.Leg(
            scheme_account(session, scheme_id, AccountKind.POINTS_LIABILITY), -discount_cents
        ),
        ledger.Leg(
            merchant_account(session, scheme_id, merchant_id, AccountKind.MERCHANT_POSITION),
            discount_cents,
        ),
    ]


def breakage_legs(
    session: Session, scheme_id: int, points: int, point_value_cents: int
) -> list[ledger.Leg]:
    """Expired or forfeited points: their value stays with the scheme."""
    value = value_of(points, point_value_cents)
    if not value:
        return []
    return [
        ledger.Leg(scheme_account(session, scheme_id, AccountKind.POINTS_LIABILITY), -value),
        ledger.Leg(scheme_account(session, scheme_id, AccountKind.BREAKAGE), value),
    ]
