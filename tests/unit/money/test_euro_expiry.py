"""loyalty.money.euro_expiry: each credit part expires at its moment, once, with one reminder."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from lokaal_sparen import tasks
from loyalty.errors import InsufficientBalance
from loyalty.models import EuroCreditNotice, Merchant, Scheme, Wallet
from loyalty.money import euro_expiry, euros, grants, ledger
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.conftest import Mailbox
from tests.factories import make_merchant, make_scheme

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
T = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)  # part A's expiry: 12 months after its claim


def _claim(session: Session, scheme: Scheme, wallet: Wallet, name: str, amount: int,
           at: datetime) -> None:
    grant = grants.create_grant(
        session, scheme, name=name, amount_cents=amount, budget_cents=amount * 10,
        starts_at=at - timedelta(days=1), ends_at=at + timedelta(days=1), who="anyone", now=at,
    )
    grants.claim(session, grant, wallet, at)


@pytest.fixture
def credit(session: Session) -> tuple[Scheme, Merchant, Wallet]:
    """Part A: 15 euros claimed at NOW, 5 spent; part B: 8 euros a month later."""
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    _claim(session, scheme, wallet, "Geboortepremie", 1500, NOW)
    _claim(session, scheme, wallet, "Vrijwilligers", 800, NOW + timedelta(days=31))
    code = redemptions.create_redemption(session, wallet, 0, NOW + timedelta(days=40),
                                         euro_cents=500).code
    redemptions.confirm_redemption(session, code, shop, NOW + timedelta(days=40))
    session.commit()
    return scheme, shop, wallet


def _notices(session: Session, wallet: Wallet, kind: str) -> int:
    return int(session.scalar(
        sa.select(sa.func.count()).select_from(EuroCreditNotice)
        .where(EuroCreditNotice.wallet_id == wallet.id, EuroCreditNotice.kind == kind)
    ) or 0)


def test_a_part_is_spendable_a_second_before_its_moment_and_gone_a_second_after(
    session: Session, credit: tuple[Scheme, Merchant, Wallet]
) -> None:
    scheme, _shop, wallet = credit
    assert euro_expiry.expire_scheme(session, scheme, T - timedelta(seconds=1)).cents_expired == 0
    held = redemptions.create_redemption(session, wallet, 0, T - timedelta(seconds=1),
                                         euro_cents=1800)
    redemptions.cancel_redemption(session, wallet, held.code, T - timedelta(seconds=1))
    assert euros.balance(session, wallet) == 1800

    # A spend code after the moment expires part A first, before the job has run.
    with pytest.raises(InsufficientBalance), session.begin_nested():
        redemptions.create_redemption(session, wallet, 0, T + timedelta(seconds=1),
                                      euro_cents=1000)
    run = euro_expiry.expire_scheme(session, scheme, T + timedelta(seconds=1))
    assert (run.parts_expired, run.cents_expired) == (1, 1000)
    assert euros.balance(session, wallet) == 800
    left = [(p.name, p.left_cents) for p in euros.parts(session, wallet)]
    assert left == [("Vrijwilligers", 800)]
    again = euro_expiry.expire_scheme(session, scheme, T + timedelta(seconds=2))
    assert again.cents_expired == 0 and _notices(session, wallet, "expired") == 1
    assert ledger.town_euro_flows(session, scheme.id) == {
        "in": 2300, "held": 800, "spent": 500, "expired": 1000}
    assert ledger.verify(session).ok


def test_two_runs_at_once_expire_a_part_once(
    app: Flask, session: Session, credit: tuple[Scheme, Merchant, Wallet], verify_ledger: Any
) -> None:
    scheme, _shop, wallet = credit
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)  # before the first statement: SQLite locks on it
            with factory() as s, s.begin():
                mine = s.get_one(Scheme, scheme.id)
                results.append(euro_expiry.expire_scheme(s, mine, T).cents_expired)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [0, 1000]
    session.expire_all()
    assert euros.balance(session, wallet) == 800
    assert _notices(session, wallet, "expired") == 1
    session.commit()
    verify_ledger()


def test_the_expiry_job_mails_one_reminder_per_part_30_days_before(
    app: Flask, session: Session, credit: tuple[Scheme, Merchant, Wallet], mailbox: Mailbox
) -> None:
    scheme, _shop, wallet = credit
    address = f"credit-{wallet.id}@example.be"
    wallet.email = address
    session.commit()
    lines: list[str] = []
    with app.app_context():
        early = tasks.expire_points(lines.append, T - timedelta(days=31), scheme.slug)
        assert "0 reminders sent" in early.summary
        first = tasks.expire_points(lines.append, T - timedelta(days=29), scheme.slug)
        assert "1 reminders sent" in first.summary
        message = mailbox.wait_for(address)
        assert "tegoed" in message["Subject"]
        body = message.get_content()
        assert "10,00" in body and "Geboortepremie" in body and "2 maart 2027" in body
        again = tasks.expire_points(lines.append, T - timedelta(days=28), scheme.slug)
        assert "0 reminders sent" in again.summary  # once per part
        done = tasks.expire_points(lines.append, T + timedelta(seconds=1), scheme.slug)
        assert "expired EUR 10.00 in 1 credit parts" in done.summary
    # Part B expires a month later: not yet within its 30 days.
    assert "0 reminders sent" in done.summary
    assert sum(1 for m in mailbox.messages if m["To"] == address) == 1
    assert _notices(session, wallet, "reminder") == 1
