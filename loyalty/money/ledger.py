"""The double-entry ledger: every change of value is a balanced transaction.

Amounts are integers (points, euro cents). Each account keeps a cached balance
that is updated in the same database transaction as its postings, with a
conditional ``UPDATE ... WHERE balance + :move >= 0`` for accounts that may not
go negative (one UPDATE for all the accounts of a transaction). That guard
works on SQLite and PostgreSQL alike (unlike ``SELECT ... FOR UPDATE``, which
SQLite ignores) and a CHECK constraint backs it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InsufficientBalance, UnbalancedTransaction
from loyalty.infra.db import ProcessCache, transaction_memo, update_loaded, utcnow
from loyalty.models import Account, AccountKind, LedgerTransaction, Posting
from loyalty.models.ledger import NON_NEGATIVE_KINDS

SCHEME_OWNER = "scheme"


class AccountLike(Protocol):
    """What a posting needs of an account: an ORM ``Account`` or an ``AccountRef``."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def asset(self) -> str: ...


@dataclass(frozen=True)
class AccountRef:
    """An account's identity without its balance (which the database moves)."""

    id: int
    kind: str
    asset: str


@dataclass(frozen=True)
class Leg:
    account: AccountLike
    amount: int


@dataclass(frozen=True)
class Along:
    """A statement that belongs to a posting's change (the claim it pays, the
    sale's event), run with it: on PostgreSQL inside the posting's one statement,
    so a sale is one round trip less per such statement; on SQLite right after.

    ``build`` makes the statement from the new transaction's id (a SQL
    expression); it must be a module-level function, since the statement it makes
    is built and compiled once per ``build``. ``params`` are its bind parameters,
    named apart from the posting's own (``a0``, ``d0``, ``f0``, ``txn_*``,
    ``leg_*``) and from the columns of the accounts table (SQLAlchemy would take
    those as values to SET in the balance UPDATE of the same statement).
    """

    build: Callable[[sa.ColumnElement[int]], sa.Insert | sa.Update]
    params: Mapping[str, Any]


def wallet_owner(wallet_id: int) -> str:
    return f"wallet:{wallet_id}"


def merchant_owner(merchant_id: int) -> str:
    return f"merchant:{merchant_id}"


def open_account(
    session: Session,
    scheme_id: int,
    kind: AccountKind,
    asset: str,
    owner_key: str,
    *,
    wallet_id: int | None = None,
    merchant_id: int | None = None,
) -> Account:
    """Create an account; callers open accounts when they create their owner."""
    account = Account(
        scheme_id=scheme_id,
        kind=kind,
        asset=asset,
        owner_key=owner_key,
        wallet_id=wallet_id,
        merchant_id=merchant_id,
        balance=0,
    )
    session.add(account)
    return account


# Statements of the value moves, in SQLAlchemy Core: built once, compiled once
# per engine (SQLAlchemy caches the SQL), run on the session's connection so
# they share its transaction. Every earn and spend runs them.
_ACCOUNTS = cast(sa.Table, Account.__table__)
_TRANSACTIONS = cast(sa.Table, LedgerTransaction.__table__)
_POSTINGS = cast(sa.Table, Posting.__table__)
_ACCOUNT_ID = sa.select(_ACCOUNTS.c.id).where(
    _ACCOUNTS.c.scheme_id == sa.bindparam("scheme_id"),
    _ACCOUNTS.c.kind == sa.bindparam("kind"),
    _ACCOUNTS.c.asset == sa.bindparam("asset"),
    _ACCOUNTS.c.owner_key == sa.bindparam("owner_key"),
)
_INSERT_TRANSACTION = sa.insert(_TRANSACTIONS).returning(_TRANSACTIONS.c.id)
_TRANSACTION_COLUMNS = ("scheme_id", "kind", "memo", "reverses_id", "point_value_cents",
                        "created_at", "settlement_id")
_INSERT_POSTINGS = sa.insert(_POSTINGS)
# Below every balance an account can reach: the floor of an account that may go negative.
_NO_FLOOR = -(2**62)


@lru_cache(maxsize=16)
def _move_balances(accounts: int) -> sa.Update:
    """One UPDATE that moves the balances of ``accounts`` accounts (named a0, a1, ...)
    by d0, d1, ..., each only if its new balance stays at or above its floor f0, f1, ...

    One statement per transaction instead of one per leg: a sale moves four
    accounts. On PostgreSQL the sub-select locks the rows in account-id order
    before any is changed, so two transactions on the same accounts wait for
    each other instead of deadlocking (SQLite has one writer and no FOR UPDATE;
    SQLAlchemy leaves it out there). A row whose floor would be crossed is not
    updated; the caller sees it missing from RETURNING.
    """
    ids = [sa.bindparam(f"a{i}", type_=sa.BigInteger) for i in range(accounts)]
    delta = sa.case(
        *[(_ACCOUNTS.c.id == ids[i], sa.bindparam(f"d{i}", type_=sa.BigInteger))
          for i in range(accounts)],
    )
    floor = sa.case(
        *[(_ACCOUNTS.c.id == ids[i], sa.bindparam(f"f{i}", type_=sa.BigInteger))
          for i in range(accounts)],
    )
    locked = (
        sa.select(_ACCOUNTS.c.id).where(_ACCOUNTS.c.id.in_(ids))
        .order_by(_ACCOUNTS.c.id).with_for_update()
    )
    return (
        sa.update(_ACCOUNTS)
        .where(_ACCOUNTS.c.id.in_(locked.scalar_subquery()), _ACCOUNTS.c.balance + delta >= floor)
        .values(balance=_ACCOUNTS.c.balance + delta)
        .returning(_ACCOUNTS.c.id, _ACCOUNTS.c.balance)
    )


@lru_cache(maxsize=64)
def _post_in_one(
    accounts: int, along: tuple[Callable[[sa.ColumnElement[int]], sa.Insert | sa.Update], ...]
) -> sa.Select[Any]:
    """PostgreSQL: the whole posting as one statement. The transaction's row,
    the guarded balance moves, the postings and the ``along`` statements are
    data-modifying parts of one WITH (each runs once and to the end, whatever the
    SELECT reads): one round trip to the server instead of three or more. It
    returns the transaction's id with each moved account's new balance (NULL ids
    if none moved)."""
    txn = (
        sa.insert(_TRANSACTIONS)
        # Named apart from the columns: a parameter named like a column of the
        # UPDATE in this statement would be taken as a value to SET there.
        .values({name: sa.bindparam(f"txn_{name}") for name in _TRANSACTION_COLUMNS})
        .returning(_TRANSACTIONS.c.id)
        .cte("txn")
    )
    moved = _move_balances(accounts).cte("moved")
    legs = sa.select(
        sa.func.unnest(sa.bindparam("leg_accounts", type_=ARRAY(sa.BigInteger)))
        .label("account_id"),
        sa.func.unnest(sa.bindparam("leg_assets", type_=ARRAY(sa.String))).label("asset"),
        sa.func.unnest(sa.bindparam("leg_amounts", type_=ARRAY(sa.BigInteger))).label("amount"),
    ).subquery("legs")
    postings = sa.insert(_POSTINGS).from_select(
        ["transaction_id", "account_id", "asset", "amount"],
        sa.select(txn.c.id, legs.c.account_id, legs.c.asset, legs.c.amount)
        .select_from(txn.join(legs, sa.true())),
    ).cte("postings")
    new_id = sa.select(txn.c.id).scalar_subquery()
    return (
        sa.select(txn.c.id, moved.c.id, moved.c.balance)
        .select_from(txn.outerjoin(moved, sa.true()))
        .add_cte(postings, *[build(new_id).cte(f"along{i}") for i, build in enumerate(along)])
    )


@lru_cache(maxsize=64)
def _along_alone(build: Callable[[sa.ColumnElement[int]], sa.Insert | sa.Update]) -> Any:
    """SQLite: an ``along`` statement on its own, the transaction's id a parameter."""
    return build(sa.bindparam("ledger_transaction_id", type_=sa.BigInteger))


# Accounts are never deleted and their keys never change, so a worker may keep
# the id of an account for good once it has seen it committed.
_ACCOUNT_REFS = ProcessCache()
_BALANCE = "ledger.balance"


def account(
    session: Session, scheme_id: int, kind: AccountKind, asset: str, owner_key: str
) -> AccountRef:
    """The account of an owner, for posting and for ``balance``; no lookup once
    this worker knows it. Raises LookupError if it was never opened."""
    key = (scheme_id, kind.value, asset, owner_key)
    ref: AccountRef | None = _ACCOUNT_REFS.get(session, key)
    if ref is None:
        session.flush()  # an account opened in this transaction and not yet written
        account_id = session.connection().execute(
            _ACCOUNT_ID,
            {"scheme_id": scheme_id, "kind": kind.value, "asset": asset, "owner_key": owner_key},
        ).scalar()
        if account_id is None:
            raise LookupError(f"no {kind}/{asset} account for {owner_key} in scheme {scheme_id}")
        ref = AccountRef(account_id, kind.value, asset)
        _ACCOUNT_REFS.put(session, key, ref)
    return ref


def post(
    session: Session,
    scheme_id: int,
    kind: str,
    legs: Sequence[Leg],
    *,
    memo: str | None = None,
    reverses_id: int | None = None,
    point_value_cents: int | None = None,
    at: datetime | None = None,
    settlement_id: int | None = None,
    along: Sequence[Along] = (),
) -> int:
    """Write one balanced transaction, move the cached balances with it, and
    return the new transaction's id.

    ``point_value_cents`` is the value of a point that priced the euro legs of
    a transaction that moves points in or out of circulation (loyalty.money.accounts).
    ``at`` is when it happened (the domain's clock); settlement periods and
    point expiry read it.
    ``settlement_id`` marks a settlement's own postings as taken by it.
    ``along``: statements of the same change, run with the posting (see Along).

    Raises InsufficientBalance when a wallet or the holds would go below zero;
    the caller's database transaction must then be rolled back.
    """
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.amount == 0:
            raise UnbalancedTransaction("zero-amount leg")
        totals[leg.account.asset] += leg.amount
    if not legs or any(totals.values()):
        raise UnbalancedTransaction(f"postings do not balance: {dict(totals)}")
    # Accounts opened in this transaction must exist before postings refer to them.
    session.flush()
    connection = session.connection()
    transaction = {
        "scheme_id": scheme_id, "kind": kind, "memo": memo, "reverses_id": reverses_id,
        "point_value_cents": point_value_cents, "created_at": at or utcnow(),
        "settlement_id": settlement_id,
    }
    # The net move per account, and the floor a debit may not cross: zero for
    # the kinds that may not go negative (wallets, holds, budgets).
    moves: dict[int, int] = defaultdict(int)
    kinds: dict[int, str] = {}
    for leg in legs:
        moves[leg.account.id] += leg.amount
        kinds[leg.account.id] = leg.account.kind
    params: dict[str, int] = {}
    moving = sorted(account_id for account_id, amount in moves.items() if amount)
    for i, account_id in enumerate(moving):
        amount = moves[account_id]
        params[f"a{i}"], params[f"d{i}"] = account_id, amount
        params[f"f{i}"] = 0 if amount < 0 and kinds[account_id] in NON_NEGATIVE_KINDS else _NO_FLOOR
    balances: dict[int, int] = {}
    if moving and connection.dialect.name == "postgresql":
        extra: dict[str, Any] = {}
        for statement in along:
            extra.update(statement.params)
        rows = connection.execute(_post_in_one(len(moving), tuple(a.build for a in along)), {
            **extra, **{f"txn_{name}": value for name, value in transaction.items()}, **params,
            "leg_accounts": [leg.account.id for leg in legs],
            "leg_assets": [str(leg.account.asset) for leg in legs],
            "leg_amounts": [leg.amount for leg in legs],
        }).all()
        txn_id: int = rows[0][0]
        balances = {account_id: balance for _txn, account_id, balance in rows
                    if account_id is not None}
    else:
        # SQLite has no data-modifying WITH: three statements, in-process.
        txn_id = connection.execute(_INSERT_TRANSACTION, transaction).scalar_one()
        if moving:
            moved_rows = connection.execute(_move_balances(len(moving)), params)
            balances = {account_id: balance for account_id, balance in moved_rows}
        connection.execute(_INSERT_POSTINGS, [
            {"transaction_id": txn_id, "account_id": leg.account.id,
             "asset": leg.account.asset, "amount": leg.amount}
            for leg in legs
        ])
        if len(balances) == len(moving):
            for statement in along:
                connection.execute(_along_alone(statement.build),
                                   {**statement.params, "ledger_transaction_id": txn_id})
    if len(balances) != len(moving):  # a floor would be crossed: that row did not move
        raise InsufficientBalance("not enough points")
    # Only once every leg moved (a refused debit leaves the memo as it was, for a
    # caller that retries in a savepoint): this transaction holds the rows
    # (PostgreSQL's row locks, SQLite's write lock) until it ends, so these
    # balances stay until then and balance() needs no query.
    memo_ = transaction_memo(session)
    for account_id, moved in balances.items():
        memo_[(_BALANCE, account_id)] = moved
        # An Account object of this session would be stale now: give it the new balance.
        update_loaded(session, Account, account_id, balance=moved)
    return txn_id


def reverse(session: Session, transaction_id: int, *, memo: str | None = None) -> int:
    """Post the exact opposite of a transaction and return its id. A transaction
    is reversed at most once.

    Raises Conflict if it was already reversed, InsufficientBalance if the
    points have been spent meanwhile.
    """
    original = session.get(LedgerTransaction, transaction_id)
    if original is None:
        raise LookupError(f"no transaction {transaction_id}")
    already = session.scalar(
        sa.select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == transaction_id)
    )
    if already is not None:
        raise Conflict("this transaction was already reversed", code="already_reversed")
    postings = session.scalars(
        sa.select(Posting).where(Posting.transaction_id == transaction_id)
    ).all()
    accounts = {a.id: a for a in _accounts(session, (p.account_id for p in postings))}
    legs = [Leg(accounts[p.account_id], -p.amount) for p in postings]
    return post(
        session,
        original.scheme_id,
        "reversal",
        legs,
        memo=memo or f"reversal of {original.kind} #{original.id}",
        reverses_id=transaction_id,
        point_value_cents=original.point_value_cents,
    )


def _accounts(session: Session, ids: Iterable[int]) -> Sequence[Account]:
    return session.scalars(sa.select(Account).where(Account.id.in_(set(ids)))).all()


def balance(session: Session, account_id: int) -> int:
    """The cached balance, read from the database (not from a stale object), or
    as this transaction's last posting to the account left it."""
    moved: int | None = transaction_memo(session).get((_BALANCE, account_id))
    if moved is not None:
        return moved
    return session.scalar(sa.select(Account.balance).where(Account.id == account_id)) or 0


@dataclass(frozen=True)
class VerifyReport:
    accounts_checked: int
    transactions_checked: int
    balance_mismatches: list[tuple[int, int, int]]  # account id, cached, from postings
    unbalanced_transactions: list[tuple[int, str, int]]  # transaction id, asset, sum
    asset_mismatches: list[tuple[int, int, str]]  # posting id, account id, asset
    negative_accounts: list[tuple[int, int]]  # account id, balance
    asset_totals: dict[str, int]  # sum of all balances per asset: must be zero
    # Transactions whose euro legs are not their point flows x point value.
    euro_mismatches: list[tuple[int, str]]  # transaction id, what is wrong
    # The shoppers' euros (town money) in cents: in, held, spent, expired.
    town_euros: dict[str, int]
    # Schemes whose euros liability is not the euros held in wallets and holds.
    town_mismatches: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.euro_mismatches
            or self.town_mismatches
            or self.balance_mismatches
            or self.unbalanced_transactions
            or self.asset_mismatches
            or self.negative_accounts
            or any(self.asset_totals.values())
        )


def verify(session: Session) -> VerifyReport:
    """Recompute every balance from the postings and check every invariant."""
    from_postings = sa.select(
        Posting.account_id, sa.func.sum(Posting.amount).label("total")
    ).group_by(Posting.account_id).subquery()
    rows = session.execute(
        sa.select(Account.id, Account.balance, sa.func.coalesce(from_postings.c.total, 0))
        .outerjoin(from_postings, from_postings.c.account_id == Account.id)
    ).all()
    mismatches = [(aid, cached, int(total)) for aid, cached, total in rows if cached != total]

    unbalanced = [
        (tid, asset, int(total))
        for tid, asset, total in session.execute(
            sa.select(Posting.transaction_id, Posting.asset, sa.func.sum(Posting.amount))
            .group_by(Posting.transaction_id, Posting.asset)
            .having(sa.func.sum(Posting.amount) != 0)
        ).all()
    ]
    asset_mismatches = [
        (pid, aid, asset)
        for pid, aid, asset in session.execute(
            sa.select(Posting.id, Posting.account_id, Posting.asset)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.asset != Account.asset)
        ).all()
    ]
    negative = [
        (aid, bal)
        for aid, bal in session.execute(
            sa.select(Account.id, Account.balance).where(
                Account.kind.in_([k.value for k in NON_NEGATIVE_KINDS]), Account.balance < 0
            )
        ).all()
    ]
    totals = {
        asset: int(total)
        for asset, total in session.execute(
            sa.select(Account.asset, sa.func.sum(Account.balance)).group_by(Account.asset)
        ).all()
    }
    n_txn = session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) or 0
    return VerifyReport(
        accounts_checked=len(rows),
        transactions_checked=n_txn,
        balance_mismatches=mismatches,
        unbalanced_transactions=unbalanced,
        asset_mismatches=asset_mismatches,
        negative_accounts=negative,
        asset_totals=totals,
        euro_mismatches=_euro_mismatches(session),
        town_euros=town_euro_flows(session),
        town_mismatches=_town_mismatches(session),
    )


def _town_mismatches(session: Session) -> list[tuple[int, int, int]]:
    """(scheme, euros liability, euros held) where the money behind the shoppers'
    euros is not exactly the euros in their wallets and holds: each euro held,
    spent or expired must have moved the liability with it."""
    liability = dict(session.execute(
        sa.select(Account.scheme_id, sa.func.sum(Account.balance))
        .where(Account.kind == AccountKind.EUROS_LIABILITY)
        .group_by(Account.scheme_id)
    ).all())
    held = dict(session.execute(
        sa.select(Account.scheme_id, sa.func.sum(Account.balance))
        .where(Account.asset == "euros",
               Account.kind.in_([AccountKind.WALLET, AccountKind.HOLDS]))
        .group_by(Account.scheme_id)
    ).all())
    return [
        (int(sid), int(liability.get(sid) or 0), int(held.get(sid) or 0))
        for sid in sorted(set(liability) | set(held))
        if int(liability.get(sid) or 0) != int(held.get(sid) or 0)
    ]


def town_euro_flows(session: Session, scheme_id: int | None = None) -> dict[str, int]:
    """The shoppers' euros in cents: in (ever issued), held (wallets and holds),
    spent (taken by shops) and expired; in = held + spent + expired."""
    query = sa.select(Account.kind, sa.func.sum(Account.balance)).where(
        Account.asset == "euros"
    )
    if scheme_id is not None:
        query = query.where(Account.scheme_id == scheme_id)
    by_kind = {str(k): int(v or 0) for k, v in session.execute(query.group_by(Account.kind))}
    return {
        "in": -by_kind.get(AccountKind.EUROS_ISSUED.value, 0),
        "held": by_kind.get(AccountKind.WALLET.value, 0) + by_kind.get(AccountKind.HOLDS.value, 0),
        "spent": by_kind.get(AccountKind.MERCHANT_REDEEMED.value, 0),
        "expired": by_kind.get(AccountKind.BREAKAGE.value, 0),
    }


def _euro_mismatches(session: Session) -> list[tuple[int, str]]:
    """Reconcile the euro side with the points (see loyalty.money.accounts for the
    flows) and with the shoppers' euros (loyalty.money.euros).

    In every transaction, the euro legs on the points liability must equal the
    points entering wallets and holds times the transaction's point value, and
    each shop's position legs must equal its issued and redeemed point legs
    times that value plus the euros it took. A transaction without a point
    value moves no points. The euros liability legs must equal the euros
    entering wallets and holds.
    """
    points = Account.asset == "points"
    circulating = points & Account.kind.in_([AccountKind.WALLET, AccountKind.HOLDS])
    merchant_points = points & Account.kind.in_(
        [AccountKind.MERCHANT_ISSUED, AccountKind.MERCHANT_REDEEMED]
    )

    def total(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(
            sa.func.sum(sa.case((condition, Posting.amount), else_=0)), 0
        )

    # Town money (loyalty.money.euros): euros in wallets and holds, and taken by shops.
    euros = Account.asset == "euros"
    circulating_euros = euros & Account.kind.in_([AccountKind.WALLET, AccountKind.HOLDS])
    merchant_euros = euros & (Account.kind == AccountKind.MERCHANT_REDEEMED)

    value = LedgerTransaction.point_value_cents
    unpriced = value.is_(None)
    base = (
        sa.select(LedgerTransaction.id)
        .join(Posting, Posting.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == Posting.account_id)
    )
    liability = base.group_by(LedgerTransaction.id, value).having(
        sa.or_(
            unpriced & (total(circulating) != 0),
            total(Account.kind == AccountKind.POINTS_LIABILITY)
            != total(circulating) * sa.func.coalesce(value, 0),
        )
    )
    euros_liability = base.group_by(LedgerTransaction.id).having(
        total(Account.kind == AccountKind.EUROS_LIABILITY) != total(circulating_euros)
    )
    # Per shop: the shop's accounts of every asset share its merchant_id.
    # Settlement and prepayments move positions without points, euros or a value.
    shop_position = total(Account.kind == AccountKind.MERCHANT_POSITION)
    position = base.group_by(LedgerTransaction.id, value, Account.merchant_id).having(
        sa.or_(
            unpriced & (total(merchant_points) != 0),
            unpriced & (total(merchant_euros) != 0) & (shop_position != total(merchant_euros)),
            ~unpriced
            & (shop_position != total(merchant_points) * value + total(merchant_euros)),
        )
    )
    found = [(tid, "points liability") for tid in session.scalars(liability)]
    found += [(tid, "euros liability") for tid in session.scalars(euros_liability)]
    found += [(tid, "shop position") for tid in session.scalars(position)]
    return sorted(set(found))
