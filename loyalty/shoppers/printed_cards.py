"""Cards: a wallet's number in a QR code that the till scans to give points.

A printed card is a wallet on paper, with a PIN for spending. A phone's wallet
shows the same kind of card (wallet_card_number); the till gives points to
either by scanning it, and spending still needs the shopper: the PIN of a
printed card, a spend code from the phone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import NotFound, Unauthorized
from loyalty.infra import security
from loyalty.models import Claim, Merchant, PrintedCard, Redemption, Scheme, Wallet, WalletStatus
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from loyalty.town import schemes

# Five wrong PINs in a row lock the card until the municipality's desk unlocks
# it: with 10,000 PINs that leaves a thief a 1-in-2,000 chance.
MAX_FAILED_PINS = 5
NUMBER_ALPHABET = "0123456789"


@dataclass(frozen=True)
class NewCard:
    card: PrintedCard
    pin: str


def _new_number() -> str:
    """Twelve digits in groups of four, the last a Luhn check digit against typos."""
    body = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(11))
    return body + _luhn_digit(body)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _unused_number(session: Session) -> str:
    """A new card number no printed card and no phone's card has."""
    while True:
        number = _new_number()
        taken = session.scalar(sa.select(PrintedCard.id).where(PrintedCard.number == number))
        if taken is None:
            taken = session.scalar(sa.select(Wallet.id).where(Wallet.card_number == number))
        if taken is None:
            return number


def normalise_number(number: str) -> str:
    return "".join(ch for ch in number if ch in NUMBER_ALPHABET)


def is_valid_number(number: str) -> bool:
    digits = normalise_number(number)
    return len(digits) == 12 and _luhn_digit(digits[:-1]) == digits[-1]


def format_number(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def issue_cards(
    session: Session, scheme: Scheme, count: int, *, merchant: Merchant | None = None
) -> list[NewCard]:
    """New printed cards with their wallets; the PINs are returned once, for printing.

    Raises Forbidden (a shop that is not approved).
    """
    if merchant is not None:
        schemes.require_approved(merchant)
    issued = []
    for _ in range(count):
        wallet = wallets.create_wallet(session, scheme).wallet
        pin = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(4))
        card = PrintedCard(
            scheme_id=scheme.id,
            wallet_id=wallet.id,
            number=_unused_number(session),
            pin_hash=security.hash_password(pin),
            issued_by_merchant_id=merchant.id if merchant else None,
        )
        session.add(card)
        issued.append(NewCard(card, pin))
    session.flush()
    return issued


def card_by_number(session: Session, scheme_id: int, number: str) -> PrintedCard:
    """Raises NotFound for an unknown or mistyped number."""
    digits = normalise_number(number)
    card = None
    if is_valid_number(digits):
        card = session.scalar(
            sa.select(PrintedCard).where(
                PrintedCard.number == digits, PrintedCard.scheme_id == scheme_id
            )
        )
    if card is None:
        raise NotFound("no printed card with this number", code="unknown_card")
    return card


def wallet_card_number(session: Session, wallet: Wallet) -> str:
    """The number in the wallet's card QR: its printed card's, or the phone's own card.

    The phone's number is made on first use, once: of two requests racing,
    the conditional UPDATE lets one write it and both read the same.
    """
    printed = session.scalar(
        sa.select(PrintedCard.number).where(PrintedCard.wallet_id == wallet.id)
    )
    if printed is not None:
        return printed
    if wallet.card_number is None:
        session.execute(
            sa.update(Wallet)
            .where(Wallet.id == wallet.id, Wallet.card_number.is_(None))
            .values(card_number=_unused_number(session))
            .execution_options(synchronize_session=False)
        )
        session.refresh(wallet, ["card_number"])
    return str(wallet.card_number)  # set by this UPDATE or by the one that won the race


def wallet_by_card(session: Session, scheme_id: int, number: str) -> tuple[Wallet, bool]:
    """The wallet of a scanned or typed card number, and whether it is a printed card.

    Raises NotFound for an unknown or mistyped number, a card of another
    scheme, or a deleted wallet.
    """
    digits = normalise_number(number)
    wallet = None
    printed = False
    if is_valid_number(digits):
        wallet_id = session.scalar(
            sa.select(PrintedCard.wallet_id).where(
                PrintedCard.number == digits, PrintedCard.scheme_id == scheme_id
            )
        )
        printed = wallet_id is not None
        if wallet_id is not None:
            wallet = session.get(Wallet, wallet_id)
        else:
            wallet = session.scalar(
                sa.select(Wallet).where(
                    Wallet.card_number == digits, Wallet.scheme_id == scheme_id
                )
            )
    if wallet is None or wallet.status == WalletStatus.DELETED:
        raise NotFound("no card with this number", code="unknown_card")
    return wallet, printed


def give_points(
    session: Session, claim: Claim, number: str, now: datetime
) -> claims.ClaimResult:
    """The till scanned a card (printed or a phone's): the open claim goes to its wallet.

    Raises NotFound (unknown card), and what claims.collect raises.
    """
    wallet, _printed = wallet_by_card(session, claim.scheme_id, number)
    return claims.collect(session, claim, wallet, now)


def reserve_pin_attempt(session: Session, card_id: int) -> bool:
    """Count one PIN attempt before the PIN is checked; False when the card is locked.

    One conditional UPDATE in the database, committed on its own by the
    caller: however many attempts race, no more than MAX_FAILED_PINS PINs
    are ever checked before a correct one resets the count.
    """
    reserved = session.execute(
        sa.update(PrintedCard)
        .where(PrintedCard.id == card_id, PrintedCard.failed_pins < MAX_FAILED_PINS)
        .values(failed_pins=PrintedCard.failed_pins + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(reserved == 1)


def attempts_left(session: Session, card_id: int) -> int:
    used = session.scalar(sa.select(PrintedCard.failed_pins).where(PrintedCard.id == card_id))
    return MAX_FAILED_PINS - int(used or 0)


def reset_attempts(session: Session, card_id: int) -> None:
    session.execute(
        sa.update(PrintedCard)
        .where(PrintedCard.id == card_id)
        .values(failed_pins=0)
        .execution_options(synchronize_session=False)
    )


def spend(
    session: Session, card: PrintedCard, pin: str, points: int, merchant: Merchant, now: datetime
) -> Redemption:
    """Spend a printed card's points at this shop: hold and confirm in one go.

    The caller has reserved a PIN attempt (reserve_pin_attempt). Raises
    Unauthorized (wrong PIN), InsufficientBalance (409), Forbidden.
    """
    if not security.verify_password(card.pin_hash, pin):
        raise Unauthorized("wrong PIN", code="wrong_pin")
    reset_attempts(session, card.id)
    wallet = session.get_one(Wallet, card.wallet_id)
    held = redemptions.create_redemption(session, wallet, points, now)
    return redemptions.confirm_redemption(session, held.code, merchant, now)


def unlock(session: Session, card: PrintedCard) -> None:
    """The municipality's desk unlocks a card after checking who holds it."""
    reset_attempts(session, card.id)


def balance(session: Session, card: PrintedCard) -> int:
    return wallets.points_balance(session, session.get_one(Wallet, card.wallet_id))
