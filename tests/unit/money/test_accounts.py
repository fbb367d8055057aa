"""loyalty.money.accounts: the euro side of every point flow, and its reconciliation by verify."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.infra.db import make_engine
from loyalty.infra.migrate import upgrade
from loyalty.models import Account, AccountKind, Asset, Merchant, Posting, Scheme, Wallet
from loyalty.money import accounts, ledger
from loyalty.shoppers import erasure, wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _euro(session: Session, scheme: Scheme, merchant: Merchant | None, kind: AccountKind) -> int:
    if merchant is None:
        return ledger.balance(session, accounts.scheme_account(session, scheme.id, kind).id)
    account = accounts.merchant_account(session, scheme.id, merchant.id, kind)
    return ledger.balance(session, account.id)


def _euro_postings(session: Session, transaction_id: int | None) -> dict[str, int]:
    rows = session.execute(
        sa.select(Account.kind, Account.owner_key, Posting.amount)
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.transaction_id == transaction_id, Posting.asset == Asset.EUR_CENTS)
    ).all()
    return {f"{kind} {owner}": int(amount) for kind, owner, amount in rows}


def _earn(session: Session, merchant: Merchant, wallet: Wallet, cents: int) -> claims.ClaimResult:
    new = claims.create_claim(session, merchant, cents, NOW)
    return claims.claim_points(session, new.token, wallet, NOW)


def test_earn_redeem_and_forfeit_price_the_points_in_the_same_transaction(
    session: Session,
) -> None:
    scheme = make_scheme(session, point_value_cents=5)
    issuer = make_merchant(session, scheme)
    redeemer = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()

    earned = _earn(session, issuer, wallet, 4000)  # 40 points at 5 cents
    session.commit()
    assert earned.points_credited == 40
    assert _euro_postings(session, earned.transaction_id) == {
        f"merchant_position merchant:{issuer.id}": -200,
        "points_liability scheme": 200,
    }

    held = redemptions.create_redemption(session, wallet, 30, NOW)
    session.commit()
    # A hold keeps the points in circulation: no euro moves yet.
    assert _euro(session, scheme, None, AccountKind.POINTS_LIABILITY) == 200
    confirmed = redemptions.confirm_redemption(session, held.code, redeemer, NOW)
    session.commit()
    assert confirmed.discount_cents == 150
    assert _euro_postings(session, confirmed.finish_transaction_id) == {
        f"merchant_position merchant:{redeemer.id}": 150,
        "points_liability scheme": -150,
    }

    assert erasure.delete_wallet(session, wallet, NOW) == 10
    session.commit()
    assert _euro(session, scheme, issuer, AccountKind.MERCHANT_POSITION) == -200
    assert _euro(session, scheme, redeemer, AccountKind.MERCHANT_POSITION) == 150
    assert _euro(session, scheme, None, AccountKind.POINTS_LIABILITY) == 0
    assert _euro(session, scheme, None, AccountKind.BREAKAGE) == 50
    report = ledger.verify(session)
    assert report.ok, report
    assert report.asset_totals[Asset.EUR_CENTS] == 0


def test_the_point_value_of_the_scheme_prices_earns_when_they_happen(session: Session) -> None:
    scheme = make_scheme(session, point_value_cents=5)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    _earn(session, merchant, wallet, 1000)
    scheme.point_value_cents = 7
    session.flush()
    later = _earn(session, merchant, wallet, 1000)
    session.commit()
    assert _euro_postings(session, later.transaction_id)["points_liability scheme"] == 70
    assert _euro(session, scheme, merchant, AccountKind.MERCHANT_POSITION) == -120
    assert ledger.verify(session).ok


@pytest.fixture
def book(session: Session) -> tuple[Scheme, Merchant, Wallet]:
    scheme = make_scheme(session, point_value_cents=5)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    return scheme, merchant, wallet


def _points_legs(session: Session, merchant: Merchant, wallet: Wallet, n: int) -> list[ledger.Leg]:
    issued = ledger.account(
        session, merchant.scheme_id, AccountKind.MERCHANT_ISSUED, Asset.POINTS,
        ledger.merchant_owner(merchant.id),
    )
    return [ledger.Leg(issued, -n), ledger.Leg(wallets.points_account(session, wallet), n)]


def test_verify_finds_points_that_enter_circulation_without_their_value(
    session: Session, book: tuple[Scheme, Merchant, Wallet]
) -> None:
    scheme, merchant, wallet = book
    try:
        legs = _points_legs(session, merchant, wallet, 10)
        txn_id = ledger.post(session, scheme.id, "earn", legs)
        report = ledger.verify(session)
        assert not report.ok
        assert report.euro_mismatches == [(txn_id, "points liability"), (txn_id, "shop position")]
    finally:
        session.rollback()


def test_verify_finds_euro_legs_that_do_not_match_the_points(
    session: Session, book: tuple[Scheme, Merchant, Wallet]
) -> None:
    scheme, merchant, wallet = book
    try:
        # 10 points at 5 cents are 50 cents, not 49: balanced, but wrong.
        legs = _points_legs(session, merchant, wallet, 10) + [
            ledger.Leg(
                accounts.merchant_account(
                    session, scheme.id, merchant.id, AccountKind.MERCHANT_POSITION
                ),
                -49,
            ),
            ledger.Leg(
                accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY), 49
            ),
        ]
        txn_id = ledger.post(session, scheme.id, "earn", legs, point_value_cents=5)
        report = ledger.verify(session)
        assert report.euro_mismatches == [(txn_id, "points liability"), (txn_id, "shop position")]
        assert not report.unbalanced_transactions
    finally:
        session.rollback()


def test_a_settlement_may_move_a_position_without_points(
    session: Session, book: tuple[Scheme, Merchant, Wallet]
) -> None:
    scheme, merchant, _wallet = book
    try:
        position = accounts.merchant_account(
            session, scheme.id, merchant.id, AccountKind.MERCHANT_POSITION
        )
        bank = accounts.scheme_account(session, scheme.id, AccountKind.CASH, accounts.BANK)
        ledger.post(session, scheme.id, "payout", [ledger.Leg(position, -75), ledger.Leg(bank, 75)])
        assert ledger.verify(session).ok
    finally:
        session.rollback()


def test_the_migration_prices_the_point_flows_of_an_existing_database(
    empty_database_url: str,
) -> None:
    """Down to the revision before the euro side, then up again: the history gets its euros."""
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with Session(engine) as s:
        scheme = make_scheme(s, point_value_cents=4)
        shop, other = make_merchant(s, scheme), make_merchant(s, scheme)
        wallet = wallets.create_wallet(s, scheme).wallet
        s.commit()
        _earn(s, shop, wallet, 5000)
        code = redemptions.create_redemption(s, wallet, 20, NOW).code
        redemptions.confirm_redemption(s, code, other, NOW)
        erasure.delete_wallet(s, wallet, NOW)
        s.commit()
        ids = scheme.id, shop.id, other.id
    from alembic import command

    from loyalty.infra.migrate import alembic_config

    command.downgrade(alembic_config(empty_database_url), "0006")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM accounts WHERE asset = 'eur_cents'")) == 0
    upgrade(empty_database_url)
    # A new engine, as a server started after the migration has: the accounts
    # the downgrade dropped come back with new ids, and workers keep account
    # ids for good (accounts are never deleted outside a migration).
    engine.dispose()
    engine = make_engine(empty_database_url)
    with Session(engine) as s:
        scheme = s.get_one(Scheme, ids[0])
        shop, other = s.get_one(Merchant, ids[1]), s.get_one(Merchant, ids[2])
        assert _euro(s, scheme, shop, AccountKind.MERCHANT_POSITION) == -200
        assert _euro(s, scheme, other, AccountKind.MERCHANT_POSITION) == 80
        assert _euro(s, scheme, None, AccountKind.BREAKAGE) == 120
        assert _euro(s, scheme, None, AccountKind.POINTS_LIABILITY) == 0
        report = ledger.verify(s)
        assert report.ok, report
    engine.dispose()
