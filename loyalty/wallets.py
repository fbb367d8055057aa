"""Shoppers' wallets: anonymous bearer tokens with a recovery code."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty import ledger, security
from loyalty.errors import Forbidden, Unauthorized
from loyalty.models import Account, AccountKind, Asset, Scheme, Wallet, WalletStatus


@dataclass(frozen=True)
class NewWallet:
    wallet: Wallet
    token: str
    recovery_code: str


def create_wallet(session: Session, scheme: Scheme) -> NewWallet:
    """An anonymous wallet with its points account; the secrets are returned once."""
    token = security.new_token(security.WALLET_TOKEN_PREFIX)
    recovery = security.new_recovery_code()
    wallet = Wallet(
        scheme_id=scheme.id,
        token_hash=security.token_hash(token),
        recovery_hash=security.token_hash(security.normalise_recovery_code(recovery)),
    )
    session.add(wallet)
    # Flush for the wallet id that its account refers to.
    session.flush()
    ledger.open_account(
        session,
        scheme.id,
        AccountKind.WALLET,
        Asset.POINTS,
        ledger.wallet_owner(wallet.id),
        wallet_id=wallet.id,
    )
    session.flush()
    return NewWallet(wallet, token, recovery)


def wallet_by_token(session: Session, token: str) -> Wallet:
    """The wallet a bearer token opens. Raises Unauthorized, Forbidden (frozen)."""
    wallet = session.scalar(
        sa.select(Wallet).where(Wallet.token_hash == security.token_hash(token))
    )
    if wallet is None or wallet.status == WalletStatus.DELETED:
        raise Unauthorized("unknown wallet token")
    return wallet


def ensure_usable(wallet: Wallet) -> None:
    if wallet.status == WalletStatus.FROZEN:
        raise Forbidden("this wallet is frozen; contact the municipality", code="wallet_frozen")


def recover_wallet(session: Session, recovery_code: str) -> NewWallet:
    """Open a wallet by its recovery code: a new token replaces the old one."""
    wallet = session.scalar(
        sa.select(Wallet).where(
            Wallet.recovery_hash
            == security.token_hash(security.normalise_recovery_code(recovery_code))
        )
    )
    if wallet is None or wallet.status == WalletStatus.DELETED:
        raise Unauthorized("unknown recovery code", code="unknown_recovery_code")
    token = security.new_token(security.WALLET_TOKEN_PREFIX)
    wallet.token_hash = security.token_hash(token)
    session.flush()
    return NewWallet(wallet, token, recovery_code)


def points_account(session: Session, wallet: Wallet) -> Account:
    return ledger.get_account(
        session, wallet.scheme_id, AccountKind.WALLET, Asset.POINTS, ledger.wallet_owner(wallet.id)
    )


def points_balance(session: Session, wallet: Wallet) -> int:
    return ledger.balance(session, points_account(session, wallet).id)
