"""Grants: euros from the municipality, a fixed amount per wallet, from a capped budget.

Creating a grant programme moves its budget from the municipality's account
into the grant's own budget account (euro cents, never negative). A claim puts
the amount in the wallet's euros in one ledger transaction (loyalty.money.euros)::

    euros      euros issued -x, wallet +x
    eur_cents  grant budget -x, euros liability +x

The database decides whether the budget can still pay: ledger.post moves the
grant budget with ``UPDATE ... WHERE balance >= :debit`` (a CHECK backs it),
inside a SAVEPOINT, exactly like a campaign budget; and the unique (grant,
wallet) key of the claim's euro credit lets each wallet claim once, even when
it claims twice at the same moment.

Who may claim (``Grant.who``): anyone with the link; holders of a one-time
code (each used once: a conditional UPDATE in the claim's savepoint, so one
code raced by two wallets credits one); or wallets whose home village, as the
shopper chose it on the account page, is one of the grant's villages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import (
    Conflict,
    Forbidden,
    Gone,
    InsufficientBalance,
    InvalidInput,
    NotFound,
)
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    EuroCredit,
    EuroSource,
    Grant,
    GrantCode,
    GrantWho,
    Scheme,
    StaffUser,
    Wallet,
)
from loyalty.money import accounts, codes, euros, ledger
from loyalty.oversight import audit
from loyalty.shoppers import wallets

MAX_NAME = 200
MAX_AMOUNT_CENTS = 100_000  # EUR 1,000 a person
MAX_BUDGET_CENTS = 100_000_000  # EUR 1 million


def owner(grant_id: int) -> str:
    return f"grant:{grant_id}"


def valid_until(credited_at: datetime) -> datetime:
    """Euros credited now can be spent for 12 months (the Belgian minimum for
    gift vouchers), to the same moment a year later (28 February for 29 February)."""
    try:
        return credited_at.replace(year=credited_at.year + 1)
    except ValueError:
        return credited_at.replace(year=credited_at.year + 1, day=28)


def create_grant(
    session: Session,
    scheme: Scheme,
    *,
    name: str,
    amount_cents: int,
    budget_cents: int,
    starts_at: datetime,
    ends_at: datetime,
    who: str,
    now: datetime,
    villages: list[str] | None = None,
    created_by: int | None = None,
) -> Grant:
    """A new grant programme with its budget moved from the municipality.
    Raises InvalidInput."""
    chosen = sorted(set(villages or []))
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("starts_at and ends_at need a time zone", code="invalid_period")
    if ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at", code="invalid_period")
    if ends_at <= now:
        raise InvalidInput("a grant cannot end in the past", code="invalid_period")
    if isinstance(amount_cents, bool) or not 0 < amount_cents <= MAX_AMOUNT_CENTS:
        raise InvalidInput(
            f"amount_cents must be between 1 and {MAX_AMOUNT_CENTS}", code="invalid_amount"
        )
    if isinstance(budget_cents, bool) or not amount_cents <= budget_cents <= MAX_BUDGET_CENTS:
        raise InvalidInput(
            f"budget_cents must be between amount_cents and {MAX_BUDGET_CENTS}",
            code="invalid_budget",
        )
    if who not in {w.value for w in GrantWho}:
        raise InvalidInput(
            "who must be one of: " + ", ".join(w.value for w in GrantWho), code="invalid_who"
        )
    if who == GrantWho.VILLAGES:
        if not chosen:
            raise InvalidInput("choose at least one village", code="invalid_villages")
        if unknown := [v for v in chosen if v not in (scheme.villages or [])]:
            raise InvalidInput(f"not villages of this scheme: {unknown}",
                               code="invalid_villages")
    elif chosen:
        raise InvalidInput('villages are only for who "villages"', code="invalid_villages")
    grant = Grant(
        scheme_id=scheme.id, name=name, amount_cents=amount_cents, budget_cents=budget_cents,
        starts_at=starts_at, ends_at=ends_at, who=who, villages=chosen, created_by=created_by,
        created_at=now,
    )
    session.add(grant)
    # Flush for the grant id that names its budget account.
    session.flush()
    if created_by is not None:
        audit.record(
            session, session.get(StaffUser, created_by), "grant.create", scheme,
            {"grant": grant.id, "name": name, "budget_cents": budget_cents, "who": who,
             "villages": chosen}, now=now,
        )
    budget = ledger.open_account(
        session, scheme.id, AccountKind.GRANT_BUDGET, Asset.EUR_CENTS, owner(grant.id)
    )
    accounts.fund_budget(session, scheme.id, budget, budget_cents, kind="grant_funding",
                         memo=f"grant #{grant.id}", at=now)
    return grant


def get_grant(session: Session, scheme_id: int, grant_id: int) -> Grant:
    """A grant of this scheme; another scheme's is NotFound, like a missing one."""
    grant = session.get(Grant, grant_id)
    if grant is None or grant.scheme_id != scheme_id:
        raise NotFound("no such grant", code="unknown_grant")
    return grant


@dataclass(frozen=True)
class Claimed:
    credited_cents: int
    euro_cents: int  # the wallet's euro balance after the claim
    credit: EuroCredit


def issue_codes(
    session: Session, grant: Grant, count: int, now: datetime, *, issued_by: StaffUser | None
) -> list[str]:
    """``count`` new one-time codes of a grant for holders of a code. They are shown
    once (the town prints them from the CSV); only their hashes are kept.
    Raises InvalidInput."""
    if grant.who != GrantWho.CODE:
        raise InvalidInput("this grant is not for holders of a code", code="not_a_code_grant")
    if isinstance(count, bool) or not 0 < count <= codes.MAX_CODES:
        raise InvalidInput(f"count must be between 1 and {codes.MAX_CODES}",
                           code="invalid_count")
    issued = [codes.new_code() for _ in range(count)]
    session.add_all(
        GrantCode(grant_id=grant.id, code_hash=codes.code_hash(c), created_at=now)
        for c in issued
    )
    # Flush so a (vanishingly unlikely) repeated code fails here, not at commit.
    session.flush()
    if issued_by is not None:
        scheme = session.get_one(Scheme, grant.scheme_id)
        audit.record(session, issued_by, "grant.codes", scheme,
                     {"grant": grant.id, "count": count}, now=now)
    return issued


def code_counts(session: Session, grant: Grant) -> tuple[int, int]:
    """(codes issued, codes used) of a grant."""
    issued, used = session.execute(
        sa.select(sa.func.count(GrantCode.id), sa.func.count(GrantCode.used_at))
        .where(GrantCode.grant_id == grant.id)
    ).one()
    return int(issued), int(used)


def _check_who(grant: Grant, wallet: Wallet, code: str | None) -> None:
    """Refuse a wallet the grant is not for (Forbidden), before any write."""
    if grant.who == GrantWho.CODE and not (code or "").strip():
        raise Forbidden("this grant needs a code from the municipality", code="code_required")
    if grant.who == GrantWho.VILLAGES and wallet.home_village not in (grant.villages or []):
        raise Forbidden(
            "this grant is for residents of " + ", ".join(grant.villages or [])
            + "; choose your village on your account page",
            code="not_resident",
        )


def _use_code(session: Session, grant: Grant, wallet: Wallet, code: str, now: datetime) -> None:
    """Mark the code used by this wallet: only one UPDATE can find it unused."""
    key = codes.code_hash(code)
    won = session.execute(
        sa.update(GrantCode)
        .where(GrantCode.code_hash == key, GrantCode.grant_id == grant.id,
               GrantCode.used_at.is_(None))
        .values(used_by=wallet.id, used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won == 1:
        return
    exists = session.scalar(
        sa.select(GrantCode.id).where(GrantCode.code_hash == key, GrantCode.grant_id == grant.id)
    )
    if exists is None:
        raise Forbidden("this code is not a code of this grant", code="invalid_code")
    raise Conflict("this code was already used", code="code_used")


def claim(
    session: Session, grant: Grant, wallet: Wallet, now: datetime, *, code: str | None = None
) -> Claimed:
    """Put the grant's amount in the wallet's euros, once per wallet.

    Raises NotFound for another scheme's grant, Forbidden for a frozen wallet or
    one the grant is not for (code_required, invalid_code, not_resident), Gone
    outside its dates, Conflict (already_claimed, budget_spent, code_used).
    """
    if grant.scheme_id != wallet.scheme_id:
        raise NotFound("no such grant", code="unknown_grant")
    wallets.ensure_usable(wallet)
    if not grant.starts_at <= now < grant.ends_at:
        raise Gone("this grant cannot be claimed now", code="grant_closed")
    _check_who(grant, wallet, code)
    claimed_before = session.scalar(
        sa.select(EuroCredit.id).where(
            EuroCredit.grant_id == grant.id, EuroCredit.wallet_id == wallet.id
        )
    )
    if claimed_before is not None:
        raise Conflict("this wallet already claimed this grant", code="already_claimed")
    target = euros.wallet_account(session, wallet)
    budget = ledger.account(
        session, grant.scheme_id, AccountKind.GRANT_BUDGET, Asset.EUR_CENTS, owner(grant.id)
    )
    legs = euros.credit_legs(session, grant.scheme_id, target, grant.amount_cents, budget)
    try:
        # The savepoint undoes a half-posted claim when the budget's guarded
        # UPDATE matches no row, or when this wallet's other claim got in first,
        # or when the code was used (it stays unused then, for its rightful holder).
        with session.begin_nested():
            if grant.who == GrantWho.CODE:
                _use_code(session, grant, wallet, code or "", now)
            txn_id = ledger.post(
                session, grant.scheme_id, "grant_claim", legs,
                memo=f"grant #{grant.id}", at=now,
            )
            credit = EuroCredit(
                scheme_id=grant.scheme_id, wallet_id=wallet.id, source=EuroSource.GRANT.value,
                grant_id=grant.id, amount_cents=grant.amount_cents, credited_at=now,
                expires_at=valid_until(now), transaction_id=txn_id,
            )
            session.add(credit)
            # Flush inside the savepoint: the unique (grant, wallet) key decides here.
            session.flush()
    except InsufficientBalance:
        raise Conflict("this grant's budget is spent", code="budget_spent") from None
    except sa.exc.IntegrityError:
        raise Conflict("this wallet already claimed this grant", code="already_claimed") from None
    return Claimed(grant.amount_cents, euros.balance(session, wallet), credit)


@dataclass(frozen=True)
class Figures:
    grant: Grant
    granted_cents: int
    remaining_cents: int
    claims: int


def figures(session: Session, grant: Grant) -> Figures:
    """Take-up and remaining budget, read from the grant's budget account."""
    remaining = int(session.scalar(
        sa.select(Account.balance).where(
            Account.scheme_id == grant.scheme_id,
            Account.kind == AccountKind.GRANT_BUDGET,
            Account.owner_key == owner(grant.id),
        )
    ) or 0)
    claims = int(session.scalar(
        sa.select(sa.func.count()).select_from(EuroCredit).where(EuroCredit.grant_id == grant.id)
    ) or 0)
    return Figures(grant, grant.budget_cents - remaining, remaining, claims)


def list_grants(session: Session, scheme_id: int) -> list[Figures]:
    found = session.scalars(
        sa.select(Grant).where(Grant.scheme_id == scheme_id)
        .order_by(Grant.starts_at.desc(), Grant.id.desc())
    ).all()
    return [figures(session, g) for g in found]
