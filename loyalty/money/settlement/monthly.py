"""Monthly settlement: each shop's net position for a month, locked, paid and collected.

For a period (a calendar month in the scheme's time zone) the settlement takes
every ledger transaction of the scheme that was written before the month's end
and that no earlier settlement took: one conditional ``UPDATE ledger_transactions
SET settlement_id = :id WHERE settlement_id IS NULL AND created_at < :end``.
A transaction is therefore settled exactly once, and one committed after the
month was locked (even if it is dated inside the month) falls into the next
settlement. The postings themselves never change.

Per shop, from the euro legs on its position account (see loyalty.money.accounts):

    issued   = the value of the points it gave (earn transactions)
    redeemed = the discounts it gave with points (redemptions)
    fees     = the scheme's monthly fee
    net      = redeemed - issued - fees

plus what earlier settlements left open (``carried``: a payout that could not
be made for want of a bank account, or money the shop has not paid yet). The
settlement posts its own balanced transactions, marked with its id so that no
later settlement counts them as activity:

    fee                    position -fee, fees +fee
    prepaid applied        prepaid -y, position +y     (y = min(prepaid, owed))
    payout (due > 0)       position -due, cash:bank or cash:stripe +due
    town service           position -due, municipality +due (no fee, never paid out)
    collection             nothing yet: the position stays negative (a receivable)
                           until the shop pays; the shop is asked by e-mail, its
                           transfer becomes prepaid money, and the next
                           settlement applies it

where due = carried + net. So a shop's position, counted over settled
transactions, is always exactly what is still open after its last settlement.

Months are settled one by one, in order, from the scheme's first activity: a
settlement never silently takes several months of activity under one month's
name (``next_period`` says which month is due).

Locking is the unique (scheme, period) key: of two settlements racing for one
month the database keeps one, and the loser answers with the winner's result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    MerchantStatus,
    PayoutMethod,
    Posting,
    Scheme,
    Settlement,
    SettlementLine,
    StaffUser,
)
from loyalty.money import accounts, ledger
from loyalty.money.settlement import sepa
from loyalty.money.settlement.bank_accounts import check_bank_account
from loyalty.money.settlement.periods import parse_period, period_bounds, structured_reference
from loyalty.oversight import audit

# The settlement's own transactions: never part of a month's activity.
FEE, PREPAID, PAYOUT = "settlement_fee", "settlement_prepaid", "settlement_payout"
TOWN = "settlement_town"  # a town service's month, booked as the municipality's own
SETTLEMENT_KINDS = (FEE, PREPAID, PAYOUT, TOWN)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SettleResult:
    settlement: Settlement
    created: bool  # False: the period was already locked, nothing changed


def find(session: Session, scheme_id: int, period: str) -> Settlement | None:
    return session.scalar(
        sa.select(Settlement).where(Settlement.scheme_id == scheme_id, Settlement.period == period)
    )


def get(session: Session, scheme_id: int, period: str) -> Settlement:
    parse_period(period)
    settlement = find(session, scheme_id, period)
    if settlement is None:
        raise NotFound(f"period {period} is not settled", code="not_settled")
    return settlement


def settlements_of(session: Session, scheme_id: int) -> list[Settlement]:
    return list(
        session.scalars(
            sa.select(Settlement)
            .where(Settlement.scheme_id == scheme_id)
            .order_by(Settlement.period.desc())
        )
    )


def lines_of(session: Session, settlement_id: int) -> list[SettlementLine]:
    return list(
        session.scalars(
            sa.select(SettlementLine)
            .where(SettlementLine.settlement_id == settlement_id)
            .order_by(SettlementLine.merchant_id)
        )
    )


def euros_redeemed(session: Session, settlement_id: int) -> dict[int, int]:
    """Per shop, the town money (euros) it took in the transactions this settlement
    took: part of its redeemed_cents, read from its merchant_redeemed euros account."""
    rows = session.execute(
        sa.select(Account.merchant_id, sa.func.sum(Posting.amount))
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            LedgerTransaction.settlement_id == settlement_id,
            Account.kind == AccountKind.MERCHANT_REDEEMED,
            Account.asset == Asset.EUROS,
        )
        .group_by(Account.merchant_id)
    ).all()
    return {int(mid): int(total) for mid, total in rows if mid is not None}


def month_of(scheme: Scheme, at: datetime) -> str:
    """The period ("2026-11") an instant falls in, in the scheme's zone."""
    local = at.astimezone(ZoneInfo(scheme.timezone))
    return f"{local.year:04d}-{local.month:02d}"


def month_after(period: str) -> str:
    year, month = parse_period(period)
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def next_period(session: Session, scheme: Scheme) -> str | None:
    """The month that must be settled next: the one after the last settled
    month, or the month of the scheme's first ledger transaction; None while
    nothing was ever booked."""
    last = session.scalar(
        sa.select(sa.func.max(Settlement.period)).where(Settlement.scheme_id == scheme.id)
    )
    if last is not None:
        return month_after(last)
    first = session.scalar(
        sa.select(sa.func.min(LedgerTransaction.created_at))
        .where(LedgerTransaction.scheme_id == scheme.id)
    )
    return None if first is None else month_of(scheme, first)


def settle(
    session: Session,
    scheme: Scheme,
    period: str,
    now: datetime,
    *,
    stripe_payouts: bool = False,
    progress: Progress | None = None,
    actor: StaffUser | None = None,
) -> SettleResult:
    """Lock a month and post its fees, prepaid money applied and payouts.

    ``stripe_payouts``: Stripe is configured, so shops with a connected
    account are paid by Connect transfer (made by ``pay_by_stripe`` once the
    month is committed); without it they are paid by SEPA like the others.

    A rerun returns the locked result and changes nothing. Raises InvalidInput
    (bad period, month not over, no scheme bank account for SEPA payouts) and
    Conflict (a later month is already settled; an earlier month is due first).
    The caller commits.
    """
    start, end = period_bounds(scheme, period)
    if end > now:
        raise InvalidInput(f"{period} is not over yet", code="period_not_over")
    existing = find(session, scheme.id, period)
    if existing is not None:
        return SettleResult(existing, False)
    later = session.scalar(
        sa.select(Settlement.period)
        .where(Settlement.scheme_id == scheme.id, Settlement.period > period)
        .limit(1)
    )
    if later is not None:
        # Its settlement already took everything before its end.
        raise Conflict(f"{later} is already settled; settle months in order",
                       code="later_period_settled")
    due = next_period(session, scheme)
    if due is not None and due < period:
        raise Conflict(f"{due} is not settled yet; months are settled one by one, in order",
                       code="earlier_period_unsettled")
    settlement = Settlement(
        scheme_id=scheme.id, period=period, starts_at=start, ends_at=end, created_at=now
    )
    try:
        with session.begin_nested():
            session.add(settlement)
    except sa.exc.IntegrityError:
        # A concurrent settlement of the same month committed first (on
        # PostgreSQL the insert waited for it): answer with its result.
        winner = find(session, scheme.id, period)
        if winner is None:
            raise
        return SettleResult(winner, False)
    session.execute(
        sa.update(LedgerTransaction)
        .where(
            LedgerTransaction.scheme_id == scheme.id,
            LedgerTransaction.settlement_id.is_(None),
            LedgerTransaction.created_at < end,
        )
        .values(settlement_id=settlement.id)
        .execution_options(synchronize_session=False)
    )
    activity = _activity(session, settlement.id)
    carried = _carried(session, scheme.id, settlement.id)
    open_ids = [mid for mid, cents in carried.items() if cents]
    merchants = session.scalars(
        sa.select(Merchant)
        .where(
            Merchant.scheme_id == scheme.id,
            sa.or_(
                Merchant.status == MerchantStatus.APPROVED,
                Merchant.id.in_(list(activity) + open_ids),
            ),
        )
        .order_by(Merchant.id)
    ).all()
    for done, merchant in enumerate(merchants, 1):
        issued, redeemed = activity.get(merchant.id, (0, 0))
        # A town service is the municipality itself: it pays no fee to its own scheme.
        charged = merchant.status == MerchantStatus.APPROVED and not merchant.town_service
        fee = scheme.monthly_fee_cents if charged else 0
        session.add(_settle_shop(session, scheme, settlement, merchant, issued, redeemed, fee,
                                 carried.get(merchant.id, 0), stripe_payouts))
        if progress:
            progress("shops", done, len(merchants))
    session.flush()
    _write_sepa_file(session, scheme, settlement, now)
    # ``actor`` None: the command line (cron).
    audit.record(
        session, actor, "settlement.lock", scheme,
        {
            "period": period,
            "shops": len(merchants),
            "control_sum_cents": settlement.control_sum_cents,
        },
        now=now,
    )
    return SettleResult(settlement, True)


def _activity(session: Session, settlement_id: int) -> dict[int, tuple[int, int]]:
    """(issued, redeemed) cents per shop, from its position legs in the settled transactions.

    A reversal counts with the kind of what it reverses, so a reversed earn
    lowers what the shop issued.
    """
    reversed_txn = aliased(LedgerTransaction)
    kind = sa.func.coalesce(reversed_txn.kind, LedgerTransaction.kind)
    is_earn = kind == "earn"
    rows = session.execute(
        sa.select(
            Account.merchant_id,
            sa.func.sum(sa.case((is_earn, Posting.amount), else_=0)),
            sa.func.sum(sa.case((is_earn, 0), else_=Posting.amount)),
        )
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .outerjoin(reversed_txn, reversed_txn.id == LedgerTransaction.reverses_id)
        .where(
            LedgerTransaction.settlement_id == settlement_id,
            LedgerTransaction.kind.not_in(SETTLEMENT_KINDS),
            Account.kind == AccountKind.MERCHANT_POSITION,
        )
        .group_by(Account.merchant_id)
    ).all()
    return {int(mid): (-int(earned), int(other)) for mid, earned, other in rows}


def _carried(session: Session, scheme_id: int, settlement_id: int) -> dict[int, int]:
    """Per shop, what earlier settlements left open: its position legs in every
    transaction an earlier settlement took or posted."""
    rows = session.execute(
        sa.select(Account.merchant_id, sa.func.sum(Posting.amount))
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            Account.scheme_id == scheme_id,
            Account.kind == AccountKind.MERCHANT_POSITION,
            LedgerTransaction.settlement_id.is_not(None),
            LedgerTransaction.settlement_id != settlement_id,
        )
        .group_by(Account.merchant_id)
    ).all()
    return {mid: int(total) for mid, total in rows if mid is not None}


def _settle_shop(
    session: Session,
    scheme: Scheme,
    settlement: Settlement,
    merchant: Merchant,
    issued: int,
    redeemed: int,
    fee: int,
    carried: int,
    stripe_payouts: bool,
) -> SettlementLine:
    net = redeemed - issued - fee
    due = carried + net
    line = SettlementLine(
        settlement_id=settlement.id,
        merchant_id=merchant.id,
        issued_cents=issued,
        redeemed_cents=redeemed,
        fees_cents=fee,
        net_cents=net,
        carried_cents=carried,
        prepaid_applied_cents=0,
        payout_cents=0,
        collect_cents=0,
        payout_method=PayoutMethod.NONE,
        reference=structured_reference(settlement.period, merchant.id),
    )
    position = accounts.merchant_account(
        session, scheme.id, merchant.id, AccountKind.MERCHANT_POSITION
    )
    memo = f"settlement {settlement.period}"
    if fee:
        ledger.post(
            session, scheme.id, FEE,
            [ledger.Leg(position, -fee),
             ledger.Leg(accounts.scheme_account(session, scheme.id, AccountKind.FEES), fee)],
            memo=f"{memo}: monthly fee", settlement_id=settlement.id, at=settlement.created_at,
        )
    if merchant.town_service:
        if due:
            # What the library or the pool took (points' value and euros) is the
            # municipality's own: no transfer leaves the scheme, the municipality's
            # account is credited instead (its contributions are netted by it).
            ledger.post(
                session, scheme.id, TOWN,
                [ledger.Leg(position, -due),
                 ledger.Leg(accounts.scheme_account(session, scheme.id,
                                                    AccountKind.MUNICIPALITY), due)],
                memo=f"{memo}: town service, kept by the municipality",
                settlement_id=settlement.id, at=settlement.created_at,
            )
    elif due < 0:
        prepaid = accounts.merchant_account(
            session, scheme.id, merchant.id, AccountKind.MERCHANT_PREPAID
        )
        applied = min(ledger.balance(session, prepaid.id), -due)
        if applied > 0:
            # The conditional UPDATE in ledger.post refuses to overdraw the
            # prepaid account even if its balance changed since it was read.
            ledger.post(
                session, scheme.id, PREPAID,
                [ledger.Leg(prepaid, -applied), ledger.Leg(position, applied)],
                memo=f"{memo}: prepaid money applied", settlement_id=settlement.id,
                at=settlement.created_at,
            )
        line.prepaid_applied_cents = applied
        line.collect_cents = -due - applied
    elif due > 0:
        method, channel = _payout_channel(merchant, stripe_payouts)
        if method != PayoutMethod.NONE:
            ledger.post(
                session, scheme.id, PAYOUT,
                [ledger.Leg(position, -due),
                 ledger.Leg(accounts.scheme_account(session, scheme.id, AccountKind.CASH, channel),
                            due)],
                memo=f"{memo}: payout by {method}", settlement_id=settlement.id,
                at=settlement.created_at,
            )
            line.payout_cents = due
            line.payout_method = method
            if method == PayoutMethod.SEPA:
                line.iban, line.bic = merchant.iban, merchant.bic
                line.account_holder = merchant.account_holder or merchant.name[:70]
    return line


def _payout_channel(merchant: Merchant, stripe_payouts: bool) -> tuple[str, str]:
    """Stripe Connect when the shop has a connected account, else SEPA when its
    bank account checks out, else nothing: the position stays owed to the shop
    and the next settlement carries it forward."""
    if merchant.stripe_account_id and stripe_payouts:
        return PayoutMethod.STRIPE, accounts.STRIPE
    if merchant.iban and merchant.bic:
        try:
            check_bank_account(merchant.iban, merchant.bic, merchant.account_holder or "x")
        except InvalidInput:
            return PayoutMethod.NONE, ""
        return PayoutMethod.SEPA, accounts.BANK
    return PayoutMethod.NONE, ""


def _write_sepa_file(session: Session, scheme: Scheme, settlement: Settlement,
                     now: datetime) -> None:
    lines = [
        line for line in lines_of(session, settlement.id)
        if line.payout_method == PayoutMethod.SEPA
    ]
    settlement.sepa_transfers = len(lines)
    settlement.control_sum_cents = sum(line.payout_cents for line in lines)
    if not lines:
        settlement.sepa_xml = None
        session.flush()
        return
    if not (scheme.iban and scheme.bic):
        raise InvalidInput(
            "the scheme has no bank account for SEPA payouts: set it first "
            "(loyalty scheme-bank)", code="scheme_bank_missing"
        )
    names = dict(session.execute(
        sa.select(Merchant.id, Merchant.name).where(
            Merchant.id.in_([line.merchant_id for line in lines]))
    ).all())
    settlement.sepa_xml = sepa.sepa_xml(scheme, settlement, lines, names, now)
    session.flush()
