"""loyalty.money.euros and grants: the shoppers' euros on the ledger and their reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, Gone, InsufficientBalance
from loyalty.models import AccountKind, Asset, Grant, Scheme, Wallet
from loyalty.money import accounts, euros, grants, ledger
from loyalty.shoppers import wallets
from tests.factories import make_merchant, make_scheme

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _grant(session: Session, scheme_id: int, amount: int = 1500, budget: int = 6000) -> Grant:
    return grants.create_grant(
        session, session.get_one(Scheme, scheme_id), name="Vrijwilligers", amount_cents=amount,
        budget_cents=budget, starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=1),
        who="anyone", now=NOW,
    )


def _wallet(session: Session, scheme_id: int) -> Wallet:
    return wallets.create_wallet(session, session.get_one(Scheme, scheme_id)).wallet


def test_claimed_euros_are_spent_at_a_shop_and_expire_and_the_books_reconcile(
    session: Session,
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    grant = _grant(session, scheme.id)
    wallet = _wallet(session, scheme.id)
    claimed = grants.claim(session, grant, wallet, NOW)
    assert (claimed.credited_cents, claimed.euro_cents) == (1500, 1500)
    assert claimed.credit.expires_at == datetime(2027, 3, 2, 10, 0, tzinfo=UTC)

    account = euros.wallet_account(session, wallet)
    ledger.post(session, scheme.id, "euro_spend",
                euros.spend_legs(session, scheme.id, shop.id, account, 1000), at=NOW)
    ledger.post(session, scheme.id, "euro_expire",
                euros.expiry_legs(session, scheme.id, account, 200), at=NOW)
    assert euros.balance(session, wallet) == 300
    position = accounts.merchant_account(
        session, scheme.id, shop.id, AccountKind.MERCHANT_POSITION
    )
    assert ledger.balance(session, position.id) == 1000  # the scheme owes the shop
    [part] = euros.parts(session, wallet)
    assert (part.credited_cents, part.left_cents) == (1500, 300)

    report = ledger.verify(session)
    assert report.ok, report
    mine = ledger.town_euro_flows(session, scheme.id)
    assert mine == {"in": 1500, "held": 300, "spent": 1000, "expired": 200}

    with pytest.raises(InsufficientBalance), session.begin_nested():
        ledger.post(session, scheme.id, "euro_spend",
                    euros.spend_legs(session, scheme.id, shop.id, account, 301), at=NOW)
    assert euros.balance(session, wallet) == 300


def test_verify_finds_euros_without_their_liability(session: Session) -> None:
    scheme = make_scheme(session)
    wallet = _wallet(session, scheme.id)
    account = euros.wallet_account(session, wallet)
    issued = ledger.account(
        session, scheme.id, AccountKind.EUROS_ISSUED, Asset.EUROS, ledger.SCHEME_OWNER
    )
    municipality = accounts.scheme_account(session, scheme.id, AccountKind.MUNICIPALITY)
    fees = accounts.scheme_account(session, scheme.id, AccountKind.FEES)
    # Balanced per asset, but the euros liability did not move with the euros.
    txn = ledger.post(session, scheme.id, "tampered", [
        ledger.Leg(issued, -100), ledger.Leg(account, 100),
        ledger.Leg(municipality, -100), ledger.Leg(fees, 100),
    ], at=NOW)
    report = ledger.verify(session)
    assert (txn, "euros liability") in report.euro_mismatches
    assert not report.ok
    session.rollback()


def test_euros_taken_by_a_shop_must_move_its_position(session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    wallet = _wallet(session, scheme.id)
    grants.claim(session, _grant(session, scheme.id), wallet, NOW)
    legs = euros.spend_legs(session, scheme.id, shop.id, euros.wallet_account(session, wallet), 500)
    fees = accounts.scheme_account(session, scheme.id, AccountKind.FEES)
    # The euros went to the shop but its position was not credited (fees took it).
    legs = legs[:3] + [ledger.Leg(fees, 500)]
    txn = ledger.post(session, scheme.id, "tampered", legs, at=NOW)
    assert (txn, "shop position") in ledger.verify(session).euro_mismatches
    session.rollback()


def test_a_claim_needs_the_grant_open_and_counts_once(session: Session) -> None:
    scheme = make_scheme(session)
    grant = _grant(session, scheme.id, amount=1500, budget=1500)
    wallet, other = _wallet(session, scheme.id), _wallet(session, scheme.id)
    with pytest.raises(Gone):
        grants.claim(session, grant, wallet, grant.ends_at)
    with pytest.raises(Gone):
        grants.claim(session, grant, wallet,
                     grant.starts_at - timedelta(microseconds=1))
    grants.claim(session, grant, wallet, grant.starts_at)
    with pytest.raises(Conflict) as again:
        grants.claim(session, grant, wallet, NOW)
    assert again.value.code == "already_claimed"
    with pytest.raises(Conflict) as spent:
        grants.claim(session, grant, other, NOW)
    assert spent.value.code == "budget_spent"
    figures = grants.figures(session, grant)
    assert (figures.granted_cents, figures.remaining_cents, figures.claims) == (1500, 0, 1)
    assert euros.balance(session, other) == 0
    assert ledger.verify(session).ok


def test_euros_are_valid_for_twelve_months() -> None:
    assert grants.valid_until(datetime(2028, 2, 29, 9, tzinfo=UTC)) == datetime(
        2029, 2, 28, 9, tzinfo=UTC
    )
    assert grants.valid_until(NOW) == datetime(2027, 3, 2, 10, tzinfo=UTC)
