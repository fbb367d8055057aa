"""The social tariff: a monthly euro amount and a points multiplier for entitled wallets.

The municipality's social service hands a person a one-time code; the wallet
that enters it is entitled until the code's date (included). No name and no
reason are stored anywhere: only the code's hash, its date and, once used,
the wallet. Entering a code is a conditional UPDATE (``WHERE used_at IS
NULL``), so one code raced by two wallets entitles one.

Both benefits are paid by the scheme from its social-tariff budget (euro
cents, owner "scheme", never below zero), which the municipality funds like a
grant's budget::

    funding          eur_cents  municipality -B, social budget +B
    monthly amount   euros      euros issued -x, wallet +x
                     eur_cents  social budget -x, euros liability +x
    extra points     points     social issued -e, wallet +e
                     eur_cents  social budget -e x pv, points liability +e x pv

The monthly amount is credited once per wallet and month: its euro credit
row has a unique (wallet, month) key written in the same savepoint as its
postings, so two runs of the job at once credit once. The extra points go in
the same ledger transaction as the sale's points but come from the social
budget, not from the shop: the shop's position, its claim and its figures
only ever carry the sale's own points (as with a campaign's bonus).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import privacy
from loyalty.errors import Conflict, Forbidden, Gone, InsufficientBalance, InvalidInput
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    EuroCredit,
    EuroSource,
    Scheme,
    SocialCode,
    StaffUser,
    Wallet,
    WalletStatus,
)
from loyalty.money import accounts, codes, euros, ledger
from loyalty.money.grants import valid_until
from loyalty.oversight import audit
from loyalty.shoppers import wallets

MAX_MONTHLY_CENTS = 50_000  # EUR 500 a month
MAX_MULTIPLIER_PCT = 500  # five times the points
MAX_FUNDING_CENTS = 100_000_000  # EUR 1 million at a time


def _account(session: Session, scheme_id: int, kind: AccountKind, asset: str) -> ledger.AccountRef:
    """The scheme's social-tariff account, opened at first use."""
    try:
        return ledger.account(session, scheme_id, kind, asset, ledger.SCHEME_OWNER)
    except LookupError:
        pass
    # Two first uses may race to open it: the unique key lets one win and the
    # savepoint lets the other use the winner's account.
    try:
        with session.begin_nested():
            ledger.open_account(session, scheme_id, kind, asset, ledger.SCHEME_OWNER)
    except sa.exc.IntegrityError:
        pass
    return ledger.account(session, scheme_id, kind, asset, ledger.SCHEME_OWNER)


def budget_account(session: Session, scheme_id: int) -> ledger.AccountRef:
    return _account(session, scheme_id, AccountKind.SOCIAL_BUDGET, Asset.EUR_CENTS)


def configure(
    session: Session,
    scheme: Scheme,
    *,
    monthly_cents: int,
    multiplier_pct: int,
    by: StaffUser | None,
    now: datetime,
) -> None:
    """Set the monthly amount (0: none) and the multiplier in percent (100: none).
    Raises InvalidInput."""
    if isinstance(monthly_cents, bool) or not 0 <= monthly_cents <= MAX_MONTHLY_CENTS:
        raise InvalidInput(f"monthly_cents must be between 0 and {MAX_MONTHLY_CENTS}",
                           code="invalid_amount")
    if isinstance(multiplier_pct, bool) or not 100 <= multiplier_pct <= MAX_MULTIPLIER_PCT:
        raise InvalidInput(f"the multiplier must be between 1 and {MAX_MULTIPLIER_PCT // 100}",
                           code="invalid_multiplier")
    scheme.social_monthly_cents = monthly_cents
    scheme.social_multiplier_pct = multiplier_pct
    audit.record(session, by, "social.settings", scheme,
                 {"monthly_cents": monthly_cents, "multiplier_pct": multiplier_pct}, now=now)
    # Flush so a claim later in this transaction reads the new multiplier.
    session.flush()


def multiplier_pct(value: Decimal) -> int:
    """A typed multiplier such as 1.5 as percent (150). Raises InvalidInput."""
    pct = value * 100
    if pct % 1:
        raise InvalidInput("at most two decimals", code="invalid_multiplier")
    return int(pct)


def fund(session: Session, scheme: Scheme, cents: int, *, by: StaffUser | None,
         now: datetime) -> None:
    """Move money from the municipality's account into the social-tariff budget."""
    if isinstance(cents, bool) or not 0 < cents <= MAX_FUNDING_CENTS:
        raise InvalidInput(f"the amount must be between 1 and {MAX_FUNDING_CENTS} cents",
                           code="invalid_budget")
    accounts.fund_budget(session, scheme.id, budget_account(session, scheme.id), cents,
                         kind="social_funding", memo="social tariff", at=now)
    audit.record(session, by, "social.fund", scheme, {"cents": cents}, now=now)


def issue_codes(
    session: Session, scheme: Scheme, count: int, entitled_until: date, *,
    by: StaffUser | None, today: date, now: datetime,
) -> list[str]:
    """``count`` one-time entitlement codes, each entitling one wallet until the date.
    Shown once; only their hashes are kept. Raises InvalidInput."""
    if isinstance(count, bool) or not 0 < count <= codes.MAX_CODES:
        raise InvalidInput(f"count must be between 1 and {codes.MAX_CODES}",
                           code="invalid_count")
    if entitled_until < today:
        raise InvalidInput("the date is in the past", code="invalid_date")
    issued = [codes.new_code() for _ in range(count)]
    session.add_all(
        SocialCode(scheme_id=scheme.id, code_hash=codes.code_hash(c),
                   entitled_until=entitled_until, created_at=now)
        for c in issued
    )
    # Flush so a (vanishingly unlikely) repeated code fails here, not at commit.
    session.flush()
    audit.record(session, by, "social.codes", scheme,
                 {"count": count, "entitled_until": entitled_until.isoformat()}, now=now)
    return issued


def enter_code(session: Session, wallet: Wallet, code: str, today: date,
               now: datetime) -> date:
    """The wallet enters a code of the social service: entitled until the returned date.

    Raises Forbidden (frozen wallet, invalid_code), Conflict (code_used), Gone
    (code_expired).
    """
    wallets.ensure_usable(wallet)
    key = codes.code_hash(code)
    won = session.execute(
        sa.update(SocialCode)
        .where(SocialCode.code_hash == key, SocialCode.scheme_id == wallet.scheme_id,
               SocialCode.used_at.is_(None), SocialCode.entitled_until >= today)
        .values(used_by=wallet.id, used_at=now)
        .returning(SocialCode.entitled_until)
    ).scalar()
    if won is not None:
        return won
    found = session.execute(
        sa.select(SocialCode.used_by, SocialCode.entitled_until)
        .where(SocialCode.code_hash == key, SocialCode.scheme_id == wallet.scheme_id)
    ).first()
    if found is None:
        raise Forbidden("this is not a code of the social service", code="invalid_code")
    if found.used_by is not None:
        raise Conflict("this code was already used", code="code_used")
    raise Gone("this code's date has passed", code="code_expired")


def entitled_until(session: Session, wallet_id: int, today: date) -> date | None:
    """The last day the wallet is entitled, or None when it is not entitled today."""
    found: date | None = session.scalar(
        sa.select(sa.func.max(SocialCode.entitled_until))
        .where(SocialCode.used_by == wallet_id, SocialCode.entitled_until >= today)
    )
    return found


def extra_points(points: int, multiplier: int) -> int:
    return points * (multiplier - 100) // 100


def extra_legs(
    session: Session, scheme_id: int, wallet_account: ledger.AccountLike, extra: int,
    point_value_cents: int,
) -> list[ledger.Leg]:
    """Extra points into the wallet, their value from the social budget (not the shop)."""
    value = accounts.value_of(extra, point_value_cents)
    return [
        ledger.Leg(_account(session, scheme_id, AccountKind.SOCIAL_ISSUED, Asset.POINTS),
                   -extra),
        ledger.Leg(wallet_account, extra),
        ledger.Leg(budget_account(session, scheme_id), -value),
        ledger.Leg(accounts.scheme_account(session, scheme_id, AccountKind.POINTS_LIABILITY),
                   value),
    ]


@dataclass(frozen=True)
class MonthRun:
    credited: int  # wallets credited by this run
    budget_spent: bool  # stopped because the budget could not pay the next wallet


def credit_month(session: Session, scheme: Scheme, month: date, today: date,
                 now: datetime) -> MonthRun:
    """Credit the monthly amount to every wallet entitled today, once per wallet and month.

    Wallets already credited this month (by this run or another, also one
    running at the same moment) are skipped by the unique (wallet, month) key.
    """
    amount = scheme.social_monthly_cents
    if not amount:
        return MonthRun(0, False)
    month = month.replace(day=1)
    entitled = session.scalars(
        sa.select(Wallet)
        .where(
            Wallet.scheme_id == scheme.id,
            Wallet.status == WalletStatus.ACTIVE,
            sa.exists().where(SocialCode.used_by == Wallet.id,
                              SocialCode.entitled_until >= today),
            ~sa.exists().where(EuroCredit.wallet_id == Wallet.id,
                               EuroCredit.social_month == month),
        )
        .order_by(Wallet.id)
    ).all()
    budget = budget_account(session, scheme.id)
    credited = 0
    for wallet in entitled:
        target = euros.wallet_account(session, wallet)
        legs = euros.credit_legs(session, scheme.id, target, amount, budget)
        try:
            # The savepoint undoes this wallet's postings when the budget cannot
            # pay, or when another run credited the wallet this month first.
            with session.begin_nested():
                txn_id = ledger.post(session, scheme.id, "social_credit", legs,
                                     memo=f"social tariff {month:%Y-%m}", at=now)
                session.add(EuroCredit(
                    scheme_id=scheme.id, wallet_id=wallet.id, source=EuroSource.SOCIAL.value,
                    amount_cents=amount, credited_at=now, expires_at=valid_until(now),
                    transaction_id=txn_id, social_month=month,
                ))
                # Flush inside the savepoint: the unique (wallet, month) key decides here.
                session.flush()
        except InsufficientBalance:
            return MonthRun(credited, True)
        except sa.exc.IntegrityError:
            continue
        credited += 1
    return MonthRun(credited, False)


@dataclass(frozen=True)
class TakeUp:
    """Take-up in aggregate only: counts of people below k are hidden (None)."""

    entitled: int | None
    credited_cents: int | None
    extra_points: int | None
    budget_left_cents: int
    suppressed: bool


def take_up(session: Session, scheme: Scheme, today: date) -> TakeUp:
    """How many wallets are entitled today and what the tariff paid, under the
    privacy rules: below k entitled wallets (or k wallets ever paid) nothing
    about them is shown, only the budget left."""
    entitled = int(session.scalar(
        sa.select(sa.func.count(sa.distinct(SocialCode.used_by)))
        .where(SocialCode.scheme_id == scheme.id, SocialCode.entitled_until >= today)
    ) or 0)
    paid_wallets, credited = session.execute(
        sa.select(sa.func.count(sa.distinct(EuroCredit.wallet_id)),
                  sa.func.coalesce(sa.func.sum(EuroCredit.amount_cents), 0))
        .where(EuroCredit.scheme_id == scheme.id, EuroCredit.source == EuroSource.SOCIAL)
    ).one()
    balances = dict(session.execute(
        sa.select(Account.kind, Account.balance).where(
            Account.scheme_id == scheme.id,
            Account.kind.in_([AccountKind.SOCIAL_BUDGET, AccountKind.SOCIAL_ISSUED]),
        )
    ).all())
    left = int(balances.get(AccountKind.SOCIAL_BUDGET, 0))
    extra = -int(balances.get(AccountKind.SOCIAL_ISSUED, 0))
    k = scheme.k_anonymity or privacy.DEFAULT_K
    # Rule 1 of loyalty.analytics.privacy, with no shops in the cell (per_shop).
    hidden = any(
        privacy.violates(privacy.Cell("social", None, None, None, n, 0, 0), k, per_shop=True)
        for n in (entitled, int(paid_wallets)) if n  # nobody at all reveals nobody
    )
    if hidden:
        return TakeUp(None, None, None, left, True)
    return TakeUp(entitled, int(credited), extra, left, False)
