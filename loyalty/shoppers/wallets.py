"""Shoppers' wallets: anonymous bearer tokens with a recovery code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from loyalty.infra import security
from loyalty.infra.db import DriverStatement, attach, driver
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    Scheme,
    Wallet,
    WalletStatus,
)
from loyalty.money import ledger


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


@dataclass(frozen=True)
class TokenHolder:
    """A wallet as its bearer token's lookup reads it: what collecting needs."""

    id: int
    scheme_id: int
    status: str
    stats_consent: bool
    home_postcode: str | None
    home_village: str | None
    age_band: str | None

    def as_wallet(self, session: Session) -> Wallet:
        """The ORM object, without another query (other columns load on first use)."""
        return attach(session, Wallet, dataclasses.asdict(self))


# A driver statement (loyalty.infra.db.DriverStatement): every request of a phone starts here.
_BY_TOKEN = DriverStatement(f"""
    SELECT id, scheme_id, status, stats_consent, home_postcode, home_village, age_band
    FROM wallets
    WHERE token_hash = :token_hash AND status <> '{WalletStatus.DELETED.value}'""")  # noqa: S608  # nosec B608


def holder_of_token(session: Session, token: str) -> TokenHolder:
    """The wallet a bearer token opens. Raises Unauthorized."""
    session.flush()  # a token changed in this transaction and not yet written
    row = driver(session).run(_BY_TOKEN, {"token_hash": security.token_hash(token)}).fetchone()
    if row is None:
        raise Unauthorized("unknown wallet token")
    wallet_id, scheme_id, status, consent, postcode, village, age_band = row
    return TokenHolder(wallet_id, scheme_id, status, bool(consent), postcode, village, age_band)


def wallet_by_token(session: Session, token: str) -> Wallet:
    """The wallet a bearer token opens. Raises Unauthorized."""
    return holder_of_token(session, token).as_wallet(session)


def ensure_usable(wallet: Wallet) -> None:
    if wallet.status == WalletStatus.FROZEN:
        raise Forbidden("this wallet is frozen; contact the municipality", code="wallet_frozen")


def freeze(session: Session, wallet: Wallet) -> None:
    """The municipality stops a wallet from collecting and spending (a fraud flag).

    Its points stay where they are; holds already made can no longer be confirmed.
    Raises Conflict for a deleted wallet.
    """
    if wallet.status == WalletStatus.DELETED:
        raise Conflict("this wallet was deleted by its owner", code="wallet_deleted")
    wallet.status = WalletStatus.FROZEN
    session.flush()


def unfreeze(session: Session, wallet: Wallet) -> None:
    """Let a frozen wallet collect and spend again. Raises Conflict if it is not frozen."""
    if wallet.status != WalletStatus.FROZEN:
        raise Conflict("this wallet is not frozen", code="not_frozen")
    wallet.status = WalletStatus.ACTIVE
    session.flush()


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


class WalletIds(Protocol):
    """A wallet as far as its accounts go: an ORM Wallet or a token's lookup."""

    @property
    def id(self) -> int: ...

    @property
    def scheme_id(self) -> int: ...


def points_account_ref(session: Session, wallet: WalletIds) -> ledger.AccountRef:
    return ledger.account_ref(
        session, wallet.scheme_id, AccountKind.WALLET, Asset.POINTS, ledger.wallet_owner(wallet.id)
    )


def points_balance(session: Session, wallet: WalletIds) -> int:
    return ledger.balance(session, points_account_ref(session, wallet).id)


AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")


def set_email(session: Session, wallet: Wallet, email: str) -> None:
    """Attach a verified e-mail address. Raises Conflict if another wallet has it."""
    taken = session.scalar(
        sa.select(Wallet.id).where(Wallet.email == email, Wallet.id != wallet.id)
    )
    if taken is not None:
        raise Conflict("this e-mail address belongs to another wallet", code="email_taken")
    wallet.email = email
    session.flush()


def wallet_by_email(session: Session, email: str) -> Wallet | None:
    wallet = session.scalar(sa.select(Wallet).where(Wallet.email == email))
    if wallet is None or wallet.status == WalletStatus.DELETED:
        return None
    return wallet


def new_token_for(session: Session, wallet: Wallet) -> str:
    """Issue a fresh bearer token (a restored phone); the old one stops working."""
    token = security.new_token(security.WALLET_TOKEN_PREFIX)
    wallet.token_hash = security.token_hash(token)
    session.flush()
    return token


def set_statistics(
    session: Session,
    wallet: Wallet,
    *,
    postcode: str | None,
    village: str | None,
    age_band: str | None,
    villages: list[str],
) -> None:
    """Record consent with home postcode, village and age band. Raises InvalidInput."""
    if postcode is not None and not (len(postcode) == 4 and postcode.isdigit()):
        raise InvalidInput("a postcode has four digits", code="invalid_postcode")
    if village is not None and village not in villages:
        raise InvalidInput("unknown village", code="invalid_village")
    if age_band is not None and age_band not in AGE_BANDS:
        raise InvalidInput("unknown age band", code="invalid_age_band")
    wallet.stats_consent = True
    wallet.home_postcode = postcode
    wallet.home_village = village
    wallet.age_band = age_band
    session.flush()
