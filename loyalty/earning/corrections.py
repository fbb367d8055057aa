"""Correcting a sale: a shop owner takes back the points of a collected sale.

A mistyped amount happens at every till. Within the scheme's
``correction_days`` the shop's owner may take the sale back: a new ledger
transaction (kind ``sale_correction``, ``reverses_id`` the sale's earn, so the
settlement counts it against what the shop issued) moves the points back out of
the wallet. Points the shopper has already spent cannot be taken back: the
wallet goes to zero and the rest stays booked as given, the shop's loss; the
shopper sees both on the wallet page. Campaign bonus points of the sale go back
to the campaign first, then the sale's own points to the shop.

Once per sale: the unique key on ``sale_corrections.claim_id`` decides between
two owners clicking at once (PostgreSQL makes the second insert wait for the
first and fail; SQLite serialises the writers). The wallet's guarded balance
update decides against a spend at the same moment: if the balance dropped
between reading it and taking it back, the take-back is tried again with the
new balance inside a savepoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, Forbidden, Gone, InsufficientBalance, InvalidInput
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    Claim,
    ClaimStatus,
    LedgerTransaction,
    Merchant,
    Posting,
    SaleCorrection,
    Scheme,
    StaffUser,
    Wallet,
    WebhookEvent,
)
from loyalty.money import accounts, ledger
from loyalty.oversight import audit
from loyalty.shoppers import wallets
from loyalty.shops import webhooks

KIND = "sale_correction"
MAX_REASON = 200
# Each retry follows a spend that lowered the wallet in the meantime; more than
# a few in a row would mean something else is wrong.
ATTEMPTS = 5


@dataclass(frozen=True)
class Correctable:
    """Whether an owner may still correct a sale, and until when."""

    allowed: bool
    until: datetime | None
    reason: str | None  # a code when not allowed


def correctable(session: Session, claim: Claim, now: datetime) -> Correctable:
    if claim.status != ClaimStatus.CLAIMED or claim.claimed_at is None:
        return Correctable(False, None, "not_collected")
    if not claim.points:
        return Correctable(False, None, "no_points")
    if correction_of(session, claim.id) is not None:
        return Correctable(False, None, "already_corrected")
    scheme = session.get_one(Scheme, claim.scheme_id)
    until = claim.claimed_at + timedelta(days=scheme.correction_days)
    if now >= until:
        return Correctable(False, until, "correction_window_over")
    return Correctable(True, until, None)


def correction_of(session: Session, claim_id: int) -> SaleCorrection | None:
    return session.scalar(sa.select(SaleCorrection).where(SaleCorrection.claim_id == claim_id))


def correct_sale(
    session: Session,
    claim: Claim,
    merchant: Merchant,
    actor: StaffUser,
    reason: str,
    now: datetime,
) -> SaleCorrection:
    """Take back a collected sale's points (as many as the wallet still has).

    Raises Forbidden (another shop's sale), InvalidInput (no reason given),
    Conflict ``already_corrected`` / ``not_collected`` / ``no_points``, and
    Gone ``correction_window_over``. The caller commits.
    """
    if claim.merchant_id != merchant.id:
        raise Forbidden("this sale belongs to another shop", code="other_shop")
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("say why the sale is corrected", code="reason_required")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters",
                           code="reason_too_long")
    check = correctable(session, claim, now)
    if not check.allowed:
        if check.reason == "correction_window_over":
            raise Gone("this sale can no longer be corrected", code="correction_window_over")
        raise Conflict("this sale cannot be corrected", code=check.reason or "conflict")
    if claim.wallet_id is None or claim.transaction_id is None:  # a claimed sale has both
        raise Conflict("this sale cannot be corrected", code="not_collected")
    correction = SaleCorrection(
        scheme_id=claim.scheme_id, claim_id=claim.id, merchant_id=merchant.id,
        wallet_id=claim.wallet_id, points_taken_back=0, points_not_recovered=0,
        reason=reason, staff_user_id=actor.id, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(correction)
    except sa.exc.IntegrityError:
        # Another correction of this sale committed first.
        raise Conflict("this sale was already corrected", code="already_corrected") from None
    wallet = session.get_one(Wallet, claim.wallet_id)
    earned = _earned(session, claim.transaction_id)
    total = sum(points for _kind, _owner, points in earned)
    for _attempt in range(ATTEMPTS):
        balance = wallets.points_balance(session, wallet)
        take = min(total, balance)
        try:
            with session.begin_nested():
                txn_id = _take_back(session, claim, wallet, earned, take, now) if take else None
        except InsufficientBalance:
            continue  # a spend lowered the wallet since we read it: read it again
        break
    else:
        raise Conflict("the wallet kept changing; try again", code="try_again")
    correction.transaction_id = txn_id
    correction.points_taken_back = take
    correction.points_not_recovered = total - take
    audit.record(
        session, actor, "sale.correct", merchant,
        {"sale": claim.id, "amount_cents": claim.amount_cents, "points_taken_back": take,
         "points_not_recovered": total - take, "reason": reason},
        now=now,
    )
    # The sale's shop hears of it, in this transaction; the unique correction per
    # claim above already makes it once per sale.
    webhooks.enqueue(session, merchant.id, WebhookEvent.SALE_REVERSED, f"sale:{claim.id}", {
        "claim_id": claim.id, "merchant_id": merchant.id, "amount_cents": claim.amount_cents,
        "points_taken_back": take, "points_not_recovered": total - take,
        "reason": reason, "reversed_at": now.isoformat(),
    }, now)
    return correction


def _earned(session: Session, transaction_id: int) -> list[tuple[str, str, int]]:
    """The sale's points by source: (account kind, owner key, points) of the
    earn's issuing legs, campaign bonus first."""
    rows = session.execute(
        sa.select(Account.kind, Account.owner_key, Posting.amount)
        .join(Account, Account.id == Posting.account_id)
        .where(
            Posting.transaction_id == transaction_id,
            Posting.asset == Asset.POINTS,
            Account.kind.in_(
                [AccountKind.MERCHANT_ISSUED, AccountKind.CAMPAIGN_ISSUED]
            ),
        )
    ).all()
    earned = [(str(kind), str(owner), -int(amount)) for kind, owner, amount in rows]
    earned.sort(key=lambda row: row[0] != AccountKind.CAMPAIGN_ISSUED)
    return earned


def _take_back(
    session: Session,
    claim: Claim,
    wallet: Wallet,
    earned: list[tuple[str, str, int]],
    take: int,
    now: datetime,
) -> int:
    """Post the wallet's ``take`` points back to where the sale's points came from."""
    original = session.get_one(LedgerTransaction, claim.transaction_id)
    point_value = original.point_value_cents or 0
    scheme_id = claim.scheme_id
    legs = [ledger.Leg(wallets.points_account(session, wallet), -take)]
    left = take
    for kind, owner, points in earned:
        back = min(points, left)
        if not back:
            continue
        left -= back
        source = ledger.account(session, scheme_id, AccountKind(kind), Asset.POINTS, owner)
        legs.append(ledger.Leg(source, back))
        value = accounts.value_of(back, point_value)
        if not value:
            continue
        liability = accounts.scheme_account(session, scheme_id, AccountKind.POINTS_LIABILITY)
        if kind == AccountKind.CAMPAIGN_ISSUED:
            payer = ledger.account(session, scheme_id, AccountKind.CAMPAIGN_BUDGET,
                                   Asset.EUR_CENTS, owner)
        else:
            payer = accounts.merchant_account(
                session, scheme_id, claim.merchant_id, AccountKind.MERCHANT_POSITION
            )
        legs += [ledger.Leg(liability, -value), ledger.Leg(payer, value)]
    return ledger.post(
        session, scheme_id, KIND, _merged(legs), memo=f"correction of claim #{claim.id}",
        reverses_id=original.id, point_value_cents=original.point_value_cents, at=now,
    )


def _merged(legs: list[ledger.Leg]) -> list[ledger.Leg]:
    """One leg per account (the liability appears for the bonus and the base)."""
    totals: dict[int, int] = {}
    by_id: dict[int, ledger.AccountLike] = {}
    for leg in legs:
        totals[leg.account.id] = totals.get(leg.account.id, 0) + leg.amount
        by_id[leg.account.id] = leg.account
    return [ledger.Leg(by_id[aid], amount) for aid, amount in totals.items() if amount]
