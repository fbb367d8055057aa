"""Points expire after the scheme's validity, oldest first (FIFO).

A wallet's points are not lots with labels, so FIFO is computed: everything
that left the wallet (spent, held, forfeited, expired) used the oldest points
first, so the points a wallet still owns are its newest inflows. Of what it
owns (balance plus open holds), whatever is not covered by inflows since the
cut-off is older than the validity:

    old = max(0, owned - inflows since cut-off)

Expiry posts those points to breakage (their euro value with them, see
loyalty.money.accounts); a held point is not taken from its hold, it expires on the
next run if the hold is released. ``loyalty expire`` runs daily from cron.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from loyalty.errors import InsufficientBalance
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    ExpiryNotice,
    LedgerTransaction,
    Posting,
    Redemption,
    RedemptionStatus,
    Scheme,
    Wallet,
    WalletStatus,
)
from loyalty.money import accounts, ledger
from loyalty.shoppers import notifications, wallets

REMINDER_DAYS = 30
# A hold returned to the wallet is the same points coming back, not new ones.
NOT_INFLOWS = ("release",)


def cutoff(scheme: Scheme, now: datetime, days_ahead: int = 0) -> datetime:
    """Points that entered a wallet at or before this moment are expired (``days_ahead`` later)."""
    return now - relativedelta(months=scheme.validity_months) + timedelta(days=days_ahead)


def old_points(session: Session, wallet: Wallet, before: datetime) -> int:
    """Points a wallet still owns (balance and holds) that entered it at or before ``before``."""
    account = wallets.points_account(session, wallet)
    recent = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Posting.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            Posting.account_id == account.id,
            Posting.amount > 0,
            LedgerTransaction.kind.not_in(NOT_INFLOWS),
            LedgerTransaction.created_at > before,
        )
    )
    held = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Redemption.points), 0)).where(
            Redemption.wallet_id == wallet.id,
            Redemption.status == RedemptionStatus.HELD,
            Redemption.voucher_id.is_(None),
        )
    )
    owned = ledger.balance(session, account.id) + int(held or 0)
    return max(0, owned - int(recent or 0))


def _candidates(session: Session, scheme: Scheme) -> Iterator[Wallet]:
    """Wallets with points: the only ones that can have anything to expire or to remind of."""
    yield from session.scalars(
        sa.select(Wallet)
        .join(Account, Account.wallet_id == Wallet.id)
        .where(
            Wallet.scheme_id == scheme.id,
            Wallet.status != WalletStatus.DELETED,
            Account.kind == AccountKind.WALLET,
            Account.asset == Asset.POINTS,
            Account.balance > 0,
        )
        .order_by(Wallet.id)
    )


@dataclass(frozen=True)
class Reminder:
    wallet_id: int
    email: str | None  # None: a push reminder only
    points: int
    expires_by: date


@dataclass
class ExpiryRun:
    wallets_checked: int = 0
    wallets_expired: int = 0
    points_expired: int = 0
    reminders: list[Reminder] = field(default_factory=list)


def expire_scheme(
    session: Session,
    scheme: Scheme,
    now: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ExpiryRun:
    """Expire the old points of every wallet of a scheme and list the reminders to send.

    Idempotent and safe beside a second run: an expiry and a reminder are
    rows unique per wallet and day (reminders: per month) that the database
    refuses twice; a wallet whose points were spent meanwhile is skipped by
    the ledger's balance guard. The caller sends the reminders after commit.
    """
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    expire_before = cutoff(scheme, now)
    remind_before = cutoff(scheme, now, REMINDER_DAYS)
    run = ExpiryRun()
    candidates = list(_candidates(session, scheme))
    for wallet in candidates:
        run.wallets_checked += 1
        expired = min(
            old_points(session, wallet, expire_before), wallets.points_balance(session, wallet)
        )
        if expired and _expire_wallet(session, scheme, wallet, expired, today, now):
            run.wallets_expired += 1
            run.points_expired += expired
        push = notifications.wants(session, wallet.id, notifications.EXPIRY)
        email = wallet.email if wallet.email and notifications.reminders_by_mail(
            session, wallet.id) else None
        if email or push:
            soon = old_points(session, wallet, remind_before)
            if soon and _note_reminder(session, scheme, wallet, soon, today):
                expires_by = datetime.combine(today, time()) + timedelta(days=REMINDER_DAYS)
                if email:
                    run.reminders.append(Reminder(wallet.id, email, soon, expires_by.date()))
                if push:
                    # In the reminder's transaction: kept with its notice, or with neither.
                    notifications.enqueue(
                        session, scheme.id, wallet.id, notifications.EXPIRY,
                        today.replace(day=1).isoformat(),
                        {"points": soon, "date": expires_by.date().isoformat()}, now)
        if progress is not None:
            progress(run.wallets_checked, len(candidates))
    return run


def _expire_wallet(
    session: Session, scheme: Scheme, wallet: Wallet, points: int, today: date, now: datetime
) -> bool:
    account = wallets.points_account(session, wallet)
    breakage = ledger.account(
        session, scheme.id, AccountKind.BREAKAGE, Asset.POINTS, ledger.SCHEME_OWNER
    )
    try:
        # A savepoint per wallet: a refused wallet must not undo the others.
        with session.begin_nested():
            notice = ExpiryNotice(
                scheme_id=scheme.id, wallet_id=wallet.id, kind="expired", on_date=today,
                points=points, created_at=now,
            )
            session.add(notice)
            # Flush now: the unique (wallet, kind, day) row is what stops a
            # second run of the same day from expiring the same points again.
            session.flush()
            txn_id = ledger.post(
                session,
                scheme.id,
                "expire",
                [
                    ledger.Leg(account, -points),
                    ledger.Leg(breakage, points),
                    *accounts.breakage_legs(session, scheme.id, points, scheme.point_value_cents),
                ],
                memo=f"{points} points older than {scheme.validity_months} months",
                at=now,
                point_value_cents=scheme.point_value_cents,
            )
            notice.transaction_id = txn_id
            session.flush()
    except (sa.exc.IntegrityError, InsufficientBalance):
        return False
    return True


def _note_reminder(
    session: Session, scheme: Scheme, wallet: Wallet, points: int, today: date
) -> bool:
    try:
        with session.begin_nested():
            # One reminder a month at most: keyed on the first day of the month.
            session.add(
                ExpiryNotice(
                    scheme_id=scheme.id, wallet_id=wallet.id, kind="reminder",
                    on_date=today.replace(day=1), points=points,
                )
            )
            session.flush()
    except sa.exc.IntegrityError:
        return False
    return True
