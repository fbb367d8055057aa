"""loyalty.shoppers.printed_cards: the card number a phone's wallet shows the till."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import NotFound
from loyalty.infra.db import utcnow
from loyalty.models import Wallet
from loyalty.shoppers import erasure, printed_cards, wallets
from tests.factories import make_merchant, make_scheme


def test_a_phones_card_number_is_made_once_and_finds_its_wallet(session: Session) -> None:
    scheme = make_scheme(session)
    wallet = wallets.create_wallet(session, scheme).wallet
    number = printed_cards.wallet_card_number(session, wallet)
    assert printed_cards.is_valid_number(number)
    assert printed_cards.wallet_card_number(session, wallet) == number
    found, printed = printed_cards.wallet_by_card(session, scheme.id, number)
    assert (found.id, printed) == (wallet.id, False)
    # Typed with spaces, as the number is printed under the QR code.
    spaced = printed_cards.format_number(number)
    assert printed_cards.wallet_by_card(session, scheme.id, spaced)[0].id == wallet.id


def test_a_printed_cards_wallet_shows_the_printed_number(session: Session) -> None:
    scheme = make_scheme(session)
    [card] = printed_cards.issue_cards(session, scheme, 1)
    wallet = session.get_one(Wallet, card.card.wallet_id)
    assert printed_cards.wallet_card_number(session, wallet) == card.card.number
    assert printed_cards.wallet_by_card(session, scheme.id, card.card.number)[1] is True


def test_a_card_gives_points_only_in_its_own_scheme_and_not_once_erased(
    session: Session,
) -> None:
    scheme, other = make_scheme(session), make_scheme(session)
    wallet = wallets.create_wallet(session, scheme).wallet
    number = printed_cards.wallet_card_number(session, wallet)
    shop = make_merchant(session, scheme)
    sale = claims.create_claim(session, shop, 2500, utcnow())
    result = printed_cards.give_points(session, sale.claim, number, utcnow())
    assert result.points_credited == 25
    assert wallets.points_balance(session, wallet) == 25
    with pytest.raises(NotFound):
        printed_cards.wallet_by_card(session, other.id, number)
    mistyped = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(NotFound):  # the check digit catches it
        printed_cards.wallet_by_card(session, scheme.id, mistyped)
    erasure.delete_wallet(session, wallet, utcnow())
    with pytest.raises(NotFound):
        printed_cards.wallet_by_card(session, scheme.id, number)
