"""loyalty.money.ledger: balanced postings, the non-negative guard, reversals and verify.

``ledger.verify`` checks the whole database, which every test shares. Tests
that tamper with the ledger do so inside a transaction that they roll back
after calling verify in that same transaction; the one CLI test that needs
committed tampering restores the original value in ``finally``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import Conflict, InsufficientBalance, UnbalancedTransaction
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    Posting,
    Scheme,
    Wallet,
)
from loyalty.money import accounts, ledger
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Book:
    """A scheme with one shop and one wallet, and their points accounts."""

    scheme: Scheme
    merchant: Merchant
    wallet: Wallet
    wallet_account: ledger.AccountRef
    issued: ledger.AccountRef
    redeemed: ledger.AccountRef
    holds: ledger.AccountRef
    breakage: ledger.AccountRef


def _account(
    session: Session, scheme: Scheme, kind: AccountKind, owner: str
) -> ledger.AccountRef:
    return ledger.account(session, scheme.id, kind, Asset.POINTS, owner)


@pytest.fixture
def book(session: Session) -> Book:
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    shop = ledger.merchant_owner(merchant.id)
    return Book(
        scheme=scheme,
        merchant=merchant,
        wallet=wallet,
        wallet_account=wallets.points_account(session, wallet),
        issued=_account(session, scheme, AccountKind.MERCHANT_ISSUED, shop),
        redeemed=_account(session, scheme, AccountKind.MERCHANT_REDEEMED, shop),
        holds=_account(session, scheme, AccountKind.HOLDS, ledger.SCHEME_OWNER),
        breakage=_account(session, scheme, AccountKind.BREAKAGE, ledger.SCHEME_OWNER),
    )


def _balances(session: Session, book: Book) -> dict[str, int]:
    return {
        name: ledger.balance(session, getattr(book, name).id)
        for name in ("wallet_account", "issued", "redeemed", "holds", "breakage")
    }


def _counts(session: Session) -> tuple[int, int]:
    n_txn = session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
    n_post = session.scalar(sa.select(sa.func.count()).select_from(Posting))
    return int(n_txn or 0), int(n_post or 0)


def _postings(session: Session, transaction_id: int) -> dict[int, int]:
    rows = session.execute(
        sa.select(Posting.account_id, Posting.amount).where(
            Posting.transaction_id == transaction_id
        )
    ).all()
    return {account_id: int(amount) for account_id, amount in rows}


def _earn_legs(session: Session, book: Book, points: int) -> list[ledger.Leg]:
    """A shop's points to the wallet, with their euro value (as claims.collect posts them)."""
    return [
        ledger.Leg(book.issued, -points),
        ledger.Leg(book.wallet_account, points),
        *accounts.earn_legs(
            session, book.scheme.id, book.merchant.id, points, book.scheme.point_value_cents
        ),
    ]


def _earn(session: Session, book: Book, amount_cents: int) -> claims.ClaimResult:
    new = claims.create_claim(session, book.merchant, amount_cents, NOW)
    return claims.claim_points(session, new.token, book.wallet, NOW)


# -- posting ---------------------------------------------------------------------------------


def test_balanced_posting_moves_the_cached_balances(session: Session, book: Book) -> None:
    value = book.scheme.point_value_cents
    loaded = session.get_one(Account, book.wallet_account.id)  # an ORM object of the session
    txn_id = ledger.post(
        session,
        book.scheme.id,
        "earn",
        _earn_legs(session, book, 10),
        memo="test earn",
        point_value_cents=value,
    )
    txn = session.get_one(LedgerTransaction, txn_id)
    assert txn.kind == "earn" and txn.reverses_id is None
    position = accounts.merchant_account(
        session, book.scheme.id, book.merchant.id, AccountKind.MERCHANT_POSITION
    )
    liability = accounts.scheme_account(session, book.scheme.id, AccountKind.POINTS_LIABILITY)
    assert _postings(session, txn.id) == {
        book.issued.id: -10,
        book.wallet_account.id: 10,
        position.id: -10 * value,
        liability.id: 10 * value,
    }
    assert _balances(session, book) == {
        "wallet_account": 10, "issued": -10, "redeemed": 0, "holds": 0, "breakage": 0,
    }
    # An Account object the session held learns the balance post() wrote.
    assert loaded.balance == 10

    # Three legs, one of them a debit of a non-negative account that has enough.
    ledger.post(
        session,
        book.scheme.id,
        "split",
        [
            ledger.Leg(book.wallet_account, -4),
            ledger.Leg(book.holds, 3),
            ledger.Leg(book.breakage, 1),
            *accounts.breakage_legs(session, book.scheme.id, 1, value),
        ],
        point_value_cents=value,
    )
    session.commit()
    assert _balances(session, book) == {
        "wallet_account": 6, "issued": -10, "redeemed": 0, "holds": 3, "breakage": 1,
    }
    assert ledger.verify(session).ok


@pytest.mark.parametrize(
    "amounts",
    [
        pytest.param((-10, 9), id="unbalanced"),
        pytest.param((10,), id="single-leg"),
        pytest.param((), id="no-legs"),
        pytest.param((-5, 5, 0), id="balanced-with-a-zero-leg"),
        pytest.param((0, 0), id="only-zero-legs"),
    ],
)
def test_unbalanced_or_zero_legs_raise_and_write_nothing(
    session: Session, book: Book, amounts: tuple[int, ...]
) -> None:
    accounts = [book.issued, book.wallet_account, book.breakage]
    legs = [ledger.Leg(account, amount) for account, amount in zip(accounts, amounts, strict=False)]
    before = _counts(session), _balances(session, book)

    with pytest.raises(UnbalancedTransaction):
        ledger.post(session, book.scheme.id, "earn", legs)

    assert not session.new and not session.dirty
    session.flush()
    assert (_counts(session), _balances(session, book)) == before
    session.rollback()


def test_legs_must_balance_per_asset(session: Session, book: Book) -> None:
    """+5 points against -5 euro cents sums to zero, but not per asset."""
    euros = accounts.scheme_account(session, book.scheme.id, AccountKind.BREAKAGE)
    before = _counts(session)
    with pytest.raises(UnbalancedTransaction, match="do not balance"):
        ledger.post(
            session,
            book.scheme.id,
            "mixed",
            [ledger.Leg(book.wallet_account, 5), ledger.Leg(euros, -5)],
        )
    assert _counts(session) == before
    assert ledger.balance(session, book.wallet_account.id) == 0
    session.rollback()


# -- never below zero ------------------------------------------------------------------------


def test_a_wallet_cannot_go_below_zero(session: Session, book: Book) -> None:
    ledger.post(
        session, book.scheme.id, "earn", _earn_legs(session, book, 5),
        point_value_cents=book.scheme.point_value_cents,
    )
    session.commit()
    before = _counts(session)

    with pytest.raises(InsufficientBalance):
        ledger.post(
            session, book.scheme.id, "hold",
            [ledger.Leg(book.wallet_account, -6), ledger.Leg(book.holds, 6)],
        )
    session.rollback()
    assert _counts(session) == before
    assert ledger.balance(session, book.wallet_account.id) == 5
    assert ledger.balance(session, book.holds.id) == 0

    # Exactly the balance is fine, and leaves zero.
    ledger.post(
        session, book.scheme.id, "hold",
        [ledger.Leg(book.wallet_account, -5), ledger.Leg(book.holds, 5)],
    )
    session.commit()
    assert ledger.balance(session, book.wallet_account.id) == 0


def test_the_holds_account_cannot_go_below_zero(session: Session, book: Book) -> None:
    with pytest.raises(InsufficientBalance):
        ledger.post(
            session, book.scheme.id, "release",
            [ledger.Leg(book.holds, -1), ledger.Leg(book.wallet_account, 1)],
        )
    session.rollback()
    assert ledger.balance(session, book.holds.id) == 0


def test_a_shops_issued_account_may_go_negative(session: Session, book: Book) -> None:
    """Issued points are the source of value: their account is negative by design."""
    ledger.post(
        session, book.scheme.id, "earn", _earn_legs(session, book, 7),
        point_value_cents=book.scheme.point_value_cents,
    )
    session.commit()
    assert ledger.balance(session, book.issued.id) == -7


@pytest.mark.parametrize("name", ["wallet_account", "holds"])
def test_the_database_refuses_a_negative_wallet_or_holds_balance(
    session: Session, book: Book, name: str
) -> None:
    account: Account = getattr(book, name)
    with pytest.raises(IntegrityError, match="balance_non_negative"):
        session.execute(
            sa.text("UPDATE accounts SET balance = -1 WHERE id = :id"), {"id": account.id}
        )
    session.rollback()
    assert ledger.balance(session, account.id) == 0


def test_the_check_constraint_only_covers_wallets_and_holds(session: Session, book: Book) -> None:
    """The positive control of the test above: the same raw UPDATE on a shop account works."""
    session.execute(
        sa.text("UPDATE accounts SET balance = -1 WHERE id = :id"), {"id": book.issued.id}
    )
    assert ledger.balance(session, book.issued.id) == -1
    session.rollback()
    assert ledger.balance(session, book.issued.id) == 0


# -- reversal --------------------------------------------------------------------------------


def test_reversal_posts_the_exact_opposite_once(session: Session, book: Book) -> None:
    earned = _earn(session, book, 4250)
    session.commit()
    original_id = earned.transaction_id
    assert original_id is not None
    value = 42 * book.scheme.point_value_cents
    position = accounts.merchant_account(
        session, book.scheme.id, book.merchant.id, AccountKind.MERCHANT_POSITION
    )
    liability = accounts.scheme_account(session, book.scheme.id, AccountKind.POINTS_LIABILITY)
    assert _postings(session, original_id) == {
        book.issued.id: -42, book.wallet_account.id: 42, position.id: -value, liability.id: value,
    }

    reversal = session.get_one(LedgerTransaction, ledger.reverse(session, original_id))
    session.commit()
    assert reversal.reverses_id == original_id and reversal.kind == "reversal"
    assert reversal.scheme_id == book.scheme.id
    assert _postings(session, reversal.id) == {
        account: -amount for account, amount in _postings(session, original_id).items()
    }
    assert _balances(session, book) == {
        "wallet_account": 0, "issued": 0, "redeemed": 0, "holds": 0, "breakage": 0,
    }

    # A second reversal is refused by the code ...
    before = _counts(session)
    with pytest.raises(Conflict) as refused:
        ledger.reverse(session, original_id)
    assert type(refused.value) is Conflict
    assert refused.value.code == "already_reversed"
    session.rollback()
    assert _counts(session) == before

    # ... and by the database: reverses_id is unique.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            LedgerTransaction(scheme_id=book.scheme.id, kind="reversal", reverses_id=original_id)
        )
        session.flush()
    session.rollback()
    assert _counts(session) == before
    assert ledger.verify(session).ok


def test_reversing_spent_points_raises_insufficient_balance(session: Session, book: Book) -> None:
    earned = _earn(session, book, 1000)
    redemptions.create_redemption(session, book.wallet, 8, NOW + timedelta(seconds=1))
    session.commit()
    assert earned.transaction_id is not None

    with pytest.raises(InsufficientBalance):
        ledger.reverse(session, earned.transaction_id)
    session.rollback()
    assert _balances(session, book) == {
        "wallet_account": 2, "issued": -10, "redeemed": 0, "holds": 8, "breakage": 0,
    }
    assert session.scalar(
        sa.select(LedgerTransaction.id).where(
            LedgerTransaction.reverses_id == earned.transaction_id
        )
    ) is None


def test_reversing_an_unknown_transaction_raises_lookup_error(session: Session) -> None:
    with pytest.raises(LookupError):
        ledger.reverse(session, 2**31 - 1)


# -- verify ----------------------------------------------------------------------------------


def test_verify_is_ok_on_consistent_data(session: Session, book: Book) -> None:
    _earn(session, book, 2000)
    code = redemptions.create_redemption(session, book.wallet, 5, NOW).code
    redemptions.confirm_redemption(session, code, book.merchant, NOW)
    session.commit()

    report = ledger.verify(session)
    assert report.ok, report
    assert report.balance_mismatches == [] and report.unbalanced_transactions == []
    assert report.asset_mismatches == [] and report.negative_accounts == []
    assert report.asset_totals.get(Asset.POINTS, 0) == 0
    assert report.accounts_checked >= 5 and report.transactions_checked >= 3


def test_verify_reports_a_tampered_cached_balance(session: Session, book: Book) -> None:
    _earn(session, book, 2000)
    session.commit()
    try:
        session.execute(
            sa.text("UPDATE accounts SET balance = balance + 5 WHERE id = :id"),
            {"id": book.wallet_account.id},
        )
        report = ledger.verify(session)
        assert not report.ok
        assert report.balance_mismatches == [(book.wallet_account.id, 25, 20)]
        assert report.asset_totals[Asset.POINTS] == 5
        assert report.unbalanced_transactions == []
    finally:
        session.rollback()
    assert ledger.verify(session).ok


def test_verify_reports_an_unbalanced_transaction(session: Session, book: Book) -> None:
    earned = _earn(session, book, 2000)
    session.commit()
    txn_id = earned.transaction_id
    try:
        session.execute(
            sa.text(
                "INSERT INTO postings (transaction_id, account_id, asset, amount) "
                "VALUES (:t, :a, 'points', 3)"
            ),
            {"t": txn_id, "a": book.wallet_account.id},
        )
        report = ledger.verify(session)
        assert not report.ok
        assert report.unbalanced_transactions == [(txn_id, Asset.POINTS, 3)]
        # The extra row also no longer matches the cached balance.
        assert report.balance_mismatches == [(book.wallet_account.id, 20, 23)]
    finally:
        session.rollback()
    assert ledger.verify(session).ok


def test_verify_reports_a_posting_in_the_wrong_asset(session: Session, book: Book) -> None:
    earned = _earn(session, book, 2000)
    session.commit()
    try:
        session.execute(
            sa.text("UPDATE postings SET asset = 'eur_cents' WHERE transaction_id = :t"),
            {"t": earned.transaction_id},
        )
        report = ledger.verify(session)
        assert not report.ok
        assert sorted(aid for _pid, aid, _asset in report.asset_mismatches) == sorted(
            [book.issued.id, book.wallet_account.id]
        )
    finally:
        session.rollback()
    assert ledger.verify(session).ok


def _cli_verify(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lokaal_sparen", "ledger", "verify"],
        env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_verify_exits_1_on_tampered_data(
    app: Flask, session: Session, book: Book, database_url: str
) -> None:
    _earn(session, book, 1500)
    session.commit()
    account_id = book.wallet_account.id
    original = ledger.balance(session, account_id)
    assert original == 15
    runner = app.test_cli_runner()
    passed = runner.invoke(args=["ledger", "verify"])
    assert passed.exit_code == 0 and "ledger OK" in passed.stdout, passed.output

    session.execute(
        sa.text("UPDATE accounts SET balance = :b WHERE id = :id"),
        {"b": original + 100, "id": account_id},
    )
    session.commit()
    try:
        # The real command in its own process: its exit status is what cron sees.
        result = _cli_verify(database_url)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "ledger FAILED" in result.stdout
        assert f"account {account_id}: cached balance {original + 100}, postings say 15" in (
            result.stderr
        )
    finally:
        session.rollback()
        session.execute(
            sa.text("UPDATE accounts SET balance = :b WHERE id = :id"),
            {"b": original, "id": account_id},
        )
        session.commit()
    assert ledger.balance(session, account_id) == original
    repaired = runner.invoke(args=["ledger", "verify"])
    assert repaired.exit_code == 0 and "ledger OK" in repaired.stdout, repaired.output
