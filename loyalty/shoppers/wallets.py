"""Shoppers' wallets: anonymous bearer tokens with a recovery code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from loyalty.infra import security
from loyalty.models import (
    AccountKind,
    Asset,
    Scheme,
    Wallet,
    WalletGroup,
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



# Every request of a phone starts here: the columns collecting needs, no ORM object.
_BY_TOKEN = sa.select(
    Wallet.id, Wallet.scheme_id, Wallet.status, Wallet.stats_consent,
    Wallet.home_postcode, Wallet.home_village, Wallet.age_band,
).where(Wallet.token_hash == sa.bindparam("token_hash"), Wallet.status != WalletStatus.DELETED)


def holder_of_token(session: Session, token: str) -> TokenHolder:
    """The wallet a bearer token opens. Raises Unauthorized."""
    session.flush()  # a token changed in this transaction and not yet written
    row = session.connection().execute(
        _BY_TOKEN, {"token_hash": security.token_hash(token)}
    ).first()
    if row is None:
        raise Unauthorized("unknown wallet token")
    wallet_id, scheme_id, status, consent, postcode, village, age_band = row
    return TokenHolder(wallet_id, scheme_id, status, bool(consent), postcode, village, age_band)


def wallet_by_token(session: Session, token: str) -> Wallet:
    """The wallet a bearer token opens. Raises Unauthorized."""
    wallet = session.scalar(
        sa.select(Wallet).where(
            Wallet.token_hash == security.token_hash(token), Wallet.status != WalletStatus.DELETED
        )
    )
    if wallet is None:
        raise Unauthorized("unknown wallet token")
    return wallet


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


def link_wallets(session: Session, wallet: Wallet, other: Wallet) -> None:
    """Put ``wallet`` in the group of ``other``, the same phone's wallet of another town.

    From then on the recovery code or e-mail address of either opens both.
    Raises InvalidInput for two wallets of one scheme (a phone keeps one per town).
    """
    if wallet.id == other.id or wallet.group_id is not None and wallet.group_id == other.group_id:
        return
    if wallet.scheme_id == other.scheme_id:
        raise InvalidInput("one wallet per scheme on a phone", code="same_scheme")
    if other.group_id is None:
        group = WalletGroup()
        session.add(group)
        # Flush for the group's id, which both wallets refer to.
        session.flush()
        other.group_id = group.id
    wallet.group_id = other.group_id
    session.flush()


def wallets_of_group(session: Session, wallet: Wallet) -> list[Wallet]:
    """The wallet and the other usable wallets of its group (not deleted), oldest first."""
    if wallet.group_id is None:
        return [wallet]
    return list(
        session.scalars(
            sa.select(Wallet)
            .where(Wallet.group_id == wallet.group_id, Wallet.status != WalletStatus.DELETED)
            .order_by(Wallet.id)
        )
    )


def reopen_group(session: Session, wallet: Wallet) -> list[NewWallet]:
    """New tokens for the wallet and every wallet of its group: a new phone opens them all.

    The old tokens stop working. The recovery codes are not known here (only
    their hashes), so the NewWallets carry an empty one.
    """
    opened = []
    for member in wallets_of_group(session, wallet):
        opened.append(NewWallet(member, new_token_for(session, member), ""))
    return opened


def recover_wallets(session: Session, recovery_code: str) -> list[NewWallet]:
    """Open the wallet of a recovery code and the rest of its group, with new tokens.

    Raises Unauthorized for an unknown code.
    """
    first = recover_wallet(session, recovery_code)
    others = [w for w in wallets_of_group(session, first.wallet) if w.id != first.wallet.id]
    return [first, *(NewWallet(w, new_token_for(session, w), "") for w in others)]


class WalletIds(Protocol):
    """A wallet as far as its accounts go: an ORM Wallet or a token's lookup."""

    @property
    def id(self) -> int: ...

    @property
    def scheme_id(self) -> int: ...


def points_account(session: Session, wallet: WalletIds) -> ledger.AccountRef:
    return ledger.account(
        session, wallet.scheme_id, AccountKind.WALLET, Asset.POINTS, ledger.wallet_owner(wallet.id)
    )


def points_balance(session: Session, wallet: WalletIds) -> int:
    return ledger.balance(session, points_account(session, wallet).id)


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
