"""Euros expire part by part, each at its own moment, with a reminder 30 days before.

Each part of a wallet's euros (a ``EuroCredit``) expires at its
``expires_at``: at that instant whatever is left of it (see
``euros.lefts``: euros leave soonest-expiring first) goes back to the scheme
by ``euros.expiry_legs``. A part expiring at T is spendable at T - 1s and
gone at T + 1s: the daily job expires it, and so does a spend code asking for
euros after T (``loyalty.spending.redemptions``), so no one spends an expired
euro while the job has not run yet.

Each expiry and reminder is an ``EuroCreditNotice`` row, unique per part,
kind and day, written in the savepoint of its posting: two runs at once
expire a part once, and a reminder (dated the part's expiry day) is sent once.
Euros held by an open spend code are not taken from the hold; if the code is
not used they come back and expire on a later day's run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import InsufficientBalance
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    EuroCredit,
    EuroCreditNotice,
    Scheme,
    Wallet,
    WalletStatus,
)
from loyalty.money import euros, ledger

REMINDER_DAYS = 30


@dataclass(frozen=True)
class EuroReminder:
    wallet_id: int
    email: str
    cents: int
    name: str
    expires_at: datetime


@dataclass
class EuroExpiryRun:
    wallets_checked: int = 0
    parts_expired: int = 0
    cents_expired: int = 0
    reminders: list[EuroReminder] = field(default_factory=list)


def _local_day(scheme: Scheme, at: datetime) -> date:
    return at.astimezone(ZoneInfo(scheme.timezone)).date()


def _candidates(session: Session, scheme: Scheme, horizon: datetime) -> Iterator[Wallet]:
    """Wallets holding euros with a part that expires before ``horizon``."""
    yield from session.scalars(
        sa.select(Wallet)
        .join(Account, Account.wallet_id == Wallet.id)
        .where(
            Wallet.scheme_id == scheme.id,
            Wallet.status != WalletStatus.DELETED,
            Account.kind == AccountKind.WALLET,
            Account.asset == Asset.EUROS,
            Account.balance > 0,
            sa.exists().where(EuroCredit.wallet_id == Wallet.id,
                              EuroCredit.expires_at <= horizon),
        )
        .order_by(Wallet.id)
    )


def _lefts_locked(session: Session, wallet: Wallet) -> list[tuple[EuroCredit, str, int]]:
    """The parts' lefts, read after locking the wallet's euro account on PostgreSQL.

    A spend committing between the read and the expiry would otherwise make
    the expiry take a later part's euros; the lock makes it wait for the spend
    and read the balance after it (SQLite serialises writers anyway).
    """
    account = euros.find_wallet_account(session, wallet)
    if account is not None:
        session.execute(sa.select(Account.id).where(Account.id == account.id).with_for_update())
    return euros.lefts(session, wallet)


def expire_wallet(session: Session, scheme: Scheme, wallet: Wallet, now: datetime) -> int:
    """Expire what is left of the wallet's parts whose moment has come; the cents expired."""
    due = session.scalar(sa.select(sa.exists().where(
        EuroCredit.wallet_id == wallet.id, EuroCredit.expires_at <= now)))
    if not due:
        return 0  # the usual case: no lock taken on every wallet page and spend
    expired = 0
    for credit, _name, left in _lefts_locked(session, wallet):
        if credit.expires_at > now:
            break  # soonest first: the rest expire later
        if left and _expire_part(session, scheme, wallet, credit, left, now):
            expired += left
    return expired


def _expire_part(
    session: Session, scheme: Scheme, wallet: Wallet, credit: EuroCredit, cents: int,
    now: datetime,
) -> bool:
    try:
        # A savepoint per part: a refused part must not undo the others.
        with session.begin_nested():
            notice = EuroCreditNotice(
                scheme_id=scheme.id, wallet_id=wallet.id, credit_id=credit.id,
                kind="expired", on_date=_local_day(scheme, now), cents=cents, created_at=now,
            )
            session.add(notice)
            # Flush first: the unique (part, kind, day) row is what stops a
            # second run at the same moment from expiring the part again.
            session.flush()
            notice.transaction_id = ledger.post(
                session, scheme.id, "euro_expire",
                euros.expiry_legs(session, scheme.id, euros.wallet_account(session, wallet),
                                  cents),
                memo=f"euros of credit {credit.id} expired on {credit.expires_at:%Y-%m-%d}",
                at=now,
            )
            session.flush()
    except (sa.exc.IntegrityError, InsufficientBalance):
        return False
    return True


def _note_reminder(
    session: Session, scheme: Scheme, wallet: Wallet, credit: EuroCredit, cents: int,
    now: datetime,
) -> bool:
    try:
        with session.begin_nested():
            # Dated the part's expiry day: one reminder per part, whatever the runs.
            session.add(EuroCreditNotice(
                scheme_id=scheme.id, wallet_id=wallet.id, credit_id=credit.id,
                kind="reminder", on_date=_local_day(scheme, credit.expires_at), cents=cents,
                created_at=now,
            ))
            session.flush()
    except sa.exc.IntegrityError:
        return False
    return True


def expire_scheme(session: Session, scheme: Scheme, now: datetime) -> EuroExpiryRun:
    """Expire the due euro parts of every wallet of a scheme and list the reminders to send.

    The caller commits, then sends the reminders (only those of kept notices).
    """
    horizon = now + timedelta(days=REMINDER_DAYS)
    run = EuroExpiryRun()
    for wallet in list(_candidates(session, scheme, horizon)):
        run.wallets_checked += 1
        for credit, name, left in _lefts_locked(session, wallet):
            if credit.expires_at > horizon:
                break
            if not left:
                continue
            if credit.expires_at <= now:
                if _expire_part(session, scheme, wallet, credit, left, now):
                    run.parts_expired += 1
                    run.cents_expired += left
            elif wallet.email and _note_reminder(session, scheme, wallet, credit, left, now):
                run.reminders.append(
                    EuroReminder(wallet.id, wallet.email, left, name, credit.expires_at)
                )
    return run
