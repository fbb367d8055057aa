"""loyalty.shoppers.expiry and `loyalty expire`: oldest points first, at the boundary, once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.models import (
    AccountKind,
    ExpiryNotice,
    LedgerTransaction,
    Merchant,
    Scheme,
    Wallet,
)
from loyalty.money import accounts, ledger
from loyalty.shoppers import expiry, wallet_view, wallets
from loyalty.spending import redemptions
from tests.conftest import Mailbox
from tests.factories import make_merchant, make_scheme

T0 = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
BOUNDARY = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # T0 + 24 months


@dataclass
class Shopper:
    scheme: Scheme
    shop: Merchant
    wallet: Wallet


def _earn(session: Session, shopper: Shopper, cents: int, at: datetime) -> None:
    new = claims.create_claim(session, shopper.shop, cents, at)
    claims.claim_points(session, new.token, shopper.wallet, at)


@pytest.fixture
def shopper(session: Session) -> Shopper:
    """100 points at T0, 50 more seven months later, 30 spent after that: 120 owned."""
    scheme = make_scheme(session, validity_months=24, point_value_cents=5)
    shop = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    who = Shopper(scheme, shop, wallet)
    _earn(session, who, 10_000, T0)
    _earn(session, who, 5_000, datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    spend_at = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    code = redemptions.create_redemption(session, wallet, 30, spend_at).code
    redemptions.confirm_redemption(session, code, shop, spend_at)
    session.commit()
    return who


def _expire_transactions(session: Session, shopper: Shopper) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ExpiryNotice)
            .where(ExpiryNotice.wallet_id == shopper.wallet.id, ExpiryNotice.kind == "expired")
        )
        or 0
    )


def test_points_expire_oldest_first_exactly_at_the_boundary(
    session: Session, shopper: Shopper
) -> None:
    scheme, wallet = shopper.scheme, shopper.wallet
    before = expiry.expire_scheme(session, scheme, BOUNDARY - timedelta(seconds=1))
    session.commit()
    assert before.points_expired == 0
    assert wallets.points_balance(session, wallet) == 120

    run = expiry.expire_scheme(session, scheme, BOUNDARY)
    session.commit()
    # The 30 points spent came out of the oldest 100: 70 of them are left to expire.
    assert (run.points_expired, run.wallets_expired) == (70, 1)
    assert wallets.points_balance(session, wallet) == 50
    liability = accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY)
    breakage = accounts.scheme_account(session, scheme.id, AccountKind.BREAKAGE)
    assert ledger.balance(session, liability.id) == 50 * 5
    assert ledger.balance(session, breakage.id) == 70 * 5
    txn = session.scalars(
        sa.select(LedgerTransaction).where(
            LedgerTransaction.scheme_id == scheme.id, LedgerTransaction.kind == "expire"
        )
    ).one()
    assert txn.created_at == BOUNDARY

    # Again the same day, and the next day: nothing more is old.
    assert expiry.expire_scheme(session, scheme, BOUNDARY).points_expired == 0
    assert expiry.expire_scheme(session, scheme, BOUNDARY + timedelta(days=1)).points_expired == 0
    session.commit()
    assert _expire_transactions(session, shopper) == 1
    history = wallet_view.wallet_summary(session, wallet, BOUNDARY)["history"]
    assert history[0] == {
        "at": BOUNDARY, "kind": "expired", "points": -70, "merchant": None, "status": "done",
    }
    # The 50 newer points go seven months later.
    later = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
    assert expiry.expire_scheme(session, scheme, later).points_expired == 50
    session.commit()
    assert ledger.verify(session).ok


def test_held_points_are_not_taken_from_their_hold(session: Session, shopper: Shopper) -> None:
    """A hold on old points keeps them; they expire on a later run if it is released."""
    scheme, wallet = shopper.scheme, shopper.wallet
    held = redemptions.create_redemption(session, wallet, 100, BOUNDARY - timedelta(minutes=1))
    session.commit()
    assert wallets.points_balance(session, wallet) == 20
    run = expiry.expire_scheme(session, scheme, BOUNDARY)
    session.commit()
    assert run.points_expired == 20 and wallets.points_balance(session, wallet) == 0
    redemptions.cancel_redemption(session, wallet, held.code, BOUNDARY + timedelta(minutes=1))
    session.commit()
    assert wallets.points_balance(session, wallet) == 100
    run = expiry.expire_scheme(session, scheme, BOUNDARY + timedelta(days=1))
    session.commit()
    # 70 were old; 20 of them expired already: 50 more, and the 50 newer stay.
    assert run.points_expired == 50 and wallets.points_balance(session, wallet) == 50
    assert ledger.verify(session).ok


def test_the_wallet_shows_what_the_expiry_will_take(session: Session, shopper: Shopper) -> None:
    month_before = BOUNDARY - timedelta(days=29)
    soon = wallet_view.expiring_soon(session, shopper.wallet, shopper.scheme, month_before)
    assert soon == 70
    assert wallet_view.expiring_soon(
        session, shopper.wallet, shopper.scheme, BOUNDARY - timedelta(days=31)
    ) == 0


def test_two_runs_at_once_expire_once(app: Flask, session: Session, shopper: Shopper) -> None:
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            # Both start together; on SQLite the first statement takes the write
            # lock, so the barrier must come before it.
            barrier.wait(timeout=10)
            with factory() as s, s.begin():
                scheme = s.get_one(Scheme, shopper.scheme.id)
                results.append(expiry.expire_scheme(s, scheme, BOUNDARY).points_expired)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [0, 70]
    session.expire_all()
    assert wallets.points_balance(session, shopper.wallet) == 50
    assert _expire_transactions(session, shopper) == 1
    assert ledger.verify(session).ok


def test_expire_command_reminds_shoppers_by_mail_once_a_month(
    database_url: str, session: Session, shopper: Shopper,
    smtp_server: tuple[str, int, Mailbox],
) -> None:
    host, port, mailbox = smtp_server
    address = f"saver-{shopper.wallet.id}@example.be"
    shopper.wallet.email = address
    session.commit()

    def expire(day: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "lokaal_sparen", "expire", "--scheme", shopper.scheme.slug,
             "--date", day],
            env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x",
                 "MAIL_SERVER": host, "MAIL_PORT": str(port)},
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    out = expire("2026-10-30")  # 28 days before the 70 oldest points expire
    assert "expired 0 points from 0 wallets in 1 schemes; 1 reminders sent" in out
    message = mailbox.wait_for(address)
    assert "70" in message.get_content() and "vervallen" in message["Subject"]
    assert "1 reminders sent" not in expire("2026-10-31")  # once a month
    out = expire("2026-11-28")
    assert "expired 70 points from 1 wallets in 1 schemes" in out
    assert "0 reminders sent" in out or "1 reminders sent" in out
    session.expire_all()
    assert wallets.points_balance(session, shopper.wallet) == 50


def test_expire_command_refuses_an_unknown_scheme(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lokaal_sparen", "expire", "--scheme", "nowhere"],
        env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1 and "nowhere" in result.stderr
