"""Town money: euros in the wallet, beside points, on the same ledger.

A shopper's euros are their own asset ("euros"), so they balance among
wallets, holds and shops apart from points. Each movement of them carries
euro-cent legs (asset eur_cents) that say who owes whom:

=====================  =====================================  ==================================
flow                   euros                                  eur_cents
=====================  =====================================  ==================================
grant claimed          euros issued -x, wallet +x             grant budget -x, euros liability +x
spent at shop R        wallet -x, R redeemed +x               euros liability -x, R position +x
expired                wallet -x, breakage +x                 euros liability -x, breakage +x
=====================  =====================================  ==================================

Bought euros (top-ups and gift vouchers) are in loyalty.money.vouchers.

The euros liability is what the scheme owes for euros in wallets and holds,
so ``loyalty ledger verify`` checks in every transaction that its legs equal
the euros entering wallets and holds, and that a shop's position moves by
the euros it took (besides the points it took or gave, priced). Minus the
balance of "euros issued" is every euro put in a wallet; it equals the euros
held + spent + expired (the asset sums to zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import AccountKind, Asset, EuroCredit, Grant
from loyalty.money import accounts, ledger
from loyalty.shoppers.wallets import WalletIds


def _scheme_euros(session: Session, scheme_id: int, kind: AccountKind) -> ledger.AccountRef:
    return ledger.account(session, scheme_id, kind, Asset.EUROS, ledger.SCHEME_OWNER)


def find_wallet_account(session: Session, wallet: WalletIds) -> ledger.AccountRef | None:
    """The wallet's euro account, or None while it never held euros."""
    try:
        return ledger.account(
            session, wallet.scheme_id, AccountKind.WALLET, Asset.EUROS,
            ledger.wallet_owner(wallet.id),
        )
    except LookupError:
        return None


def wallet_account(session: Session, wallet: WalletIds) -> ledger.AccountRef:
    """The wallet's euro account, opened at its first euro."""
    found = find_wallet_account(session, wallet)
    if found is not None:
        return found
    # Two credits may race to open it: the unique (scheme, kind, asset, owner)
    # key lets one win, and the savepoint lets the other use the winner's account.
    try:
        with session.begin_nested():
            ledger.open_account(
                session, wallet.scheme_id, AccountKind.WALLET, Asset.EUROS,
                ledger.wallet_owner(wallet.id), wallet_id=wallet.id,
            )
    except sa.exc.IntegrityError:
        pass
    return ledger.account(
        session, wallet.scheme_id, AccountKind.WALLET, Asset.EUROS,
        ledger.wallet_owner(wallet.id),
    )


def balance(session: Session, wallet: WalletIds) -> int:
    """The wallet's spendable euro cents."""
    found = find_wallet_account(session, wallet)
    return 0 if found is None else ledger.balance(session, found.id)


def credit_legs(
    session: Session,
    scheme_id: int,
    wallet_account_: ledger.AccountLike,
    amount_cents: int,
    paid_from: ledger.AccountLike,
) -> list[ledger.Leg]:
    """Euros into a wallet, paid from a euro-cent account (a grant's budget, cash in)."""
    return [
        ledger.Leg(_scheme_euros(session, scheme_id, AccountKind.EUROS_ISSUED), -amount_cents),
        ledger.Leg(wallet_account_, amount_cents),
        ledger.Leg(paid_from, -amount_cents),
        ledger.Leg(
            accounts.scheme_account(session, scheme_id, AccountKind.EUROS_LIABILITY),
            amount_cents,
        ),
    ]


def spend_legs(
    session: Session,
    scheme_id: int,
    merchant_id: int,
    taken_from: ledger.AccountLike,
    amount_cents: int,
) -> list[ledger.Leg]:
    """Euros taken by a shop: the scheme now owes the shop instead of the shopper."""
    return [
        ledger.Leg(taken_from, -amount_cents),
        ledger.Leg(
            ledger.account(session, scheme_id, AccountKind.MERCHANT_REDEEMED, Asset.EUROS,
                           ledger.merchant_owner(merchant_id)),
            amount_cents,
        ),
        ledger.Leg(
            accounts.scheme_account(session, scheme_id, AccountKind.EUROS_LIABILITY),
            -amount_cents,
        ),
        ledger.Leg(
            accounts.merchant_account(
                session, scheme_id, merchant_id, AccountKind.MERCHANT_POSITION
            ),
            amount_cents,
        ),
    ]


def expiry_legs(
    session: Session, scheme_id: int, wallet_account_: ledger.AccountLike, amount_cents: int
) -> list[ledger.Leg]:
    """Expired euros go back to the scheme."""
    return [
        ledger.Leg(wallet_account_, -amount_cents),
        ledger.Leg(_scheme_euros(session, scheme_id, AccountKind.BREAKAGE), amount_cents),
        ledger.Leg(
            accounts.scheme_account(session, scheme_id, AccountKind.EUROS_LIABILITY),
            -amount_cents,
        ),
        ledger.Leg(accounts.scheme_account(session, scheme_id, AccountKind.BREAKAGE),
                   amount_cents),
    ]


@dataclass(frozen=True)
class EuroPart:
    """A part of a wallet's euros: where it came from, what is left, when it expires."""

    source: str
    name: str
    credited_cents: int
    left_cents: int
    credited_at: datetime
    expires_at: datetime


def lefts(session: Session, wallet: WalletIds) -> list[tuple[EuroCredit, str, int]]:
    """Every part of the wallet's euros with its grant's name and what is left of it,
    soonest expiry first.

    Euros leave a wallet soonest-expiring first, so whatever left (spent,
    held by a spend code, or expired) is taken from the parts in that order.
    """
    rows = session.execute(
        sa.select(EuroCredit, Grant.name)
        .outerjoin(Grant, Grant.id == EuroCredit.grant_id)
        .where(EuroCredit.wallet_id == wallet.id)
        .order_by(EuroCredit.expires_at, EuroCredit.id)
    ).all()
    gone = sum(credit.amount_cents for credit, _ in rows) - balance(session, wallet)
    found = []
    for credit, name in rows:
        taken = min(gone, credit.amount_cents)
        gone -= taken
        found.append((credit, name or "", credit.amount_cents - taken))
    return found


def parts(session: Session, wallet: WalletIds) -> list[EuroPart]:
    """The wallet's euro parts that still hold euros, soonest expiry first."""
    return [
        EuroPart(credit.source, name, credit.amount_cents, left, credit.credited_at,
                 credit.expires_at)
        for credit, name, left in lefts(session, wallet)
        if left
    ]
