"""Printed cards: a wallet on paper, with a PIN for spending."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import NotFound, Unauthorized
from loyalty.infra import security
from loyalty.models import Claim, Merchant, PrintedCard, Redemption, Scheme, Wallet
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
            number=_new_number(),
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


def give_points(
    session: Session, claim: Claim, number: str, now: datetime
) -> claims.ClaimResult:
    """The till scanned a printed card: the open claim goes to the card's wallet."""
    card = card_by_number(session, claim.scheme_id, number)
    return claims.collect(session, claim, session.get_one(Wallet, card.wallet_id), now)


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
