"""The shortcuts of the earn path: what they may remember, and for how long.

Account ids are kept per worker, but only once the transaction that saw them
committed; a balance a posting returned is served only within its transaction;
on SQLite, writers queue on a lock file that each write transaction holds
from BEGIN to COMMIT or ROLLBACK.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.earning import claims
from loyalty.errors import Forbidden, InsufficientBalance
from loyalty.infra.db import (
    ProcessCache,
    QueuedWriterConnection,
    make_engine,
    sqlite_begin_mode,
    utcnow,
)
from loyalty.models import (
    AccountKind,
    Asset,
    Claim,
    ClaimStatus,
    LedgerTransaction,
    MerchantStatus,
    Wallet,
    WalletStatus,
)
from loyalty.money import accounts, ledger
from loyalty.shoppers import wallets
from tests.factories import make_merchant, make_scheme

# An account no scheme opens by itself (a scheme opens its euro accounts on creation).
_OWNER = "cash:test"


def _test_cash(session: Session, scheme_id: int) -> ledger.AccountRef:
    return ledger.account(session, scheme_id, AccountKind.CASH, Asset.EUR_CENTS, _OWNER)


def test_an_account_rolled_back_with_its_transaction_is_not_remembered(session: Session) -> None:
    scheme = make_scheme(session)
    ledger.open_account(session, scheme.id, AccountKind.CASH, Asset.EUR_CENTS, _OWNER)
    assert _test_cash(session, scheme.id).id > 0  # seen inside its own transaction
    session.rollback()
    with pytest.raises(LookupError):
        _test_cash(session, scheme.id)
    session.rollback()

    # Committed, it is remembered, with the id the database gave it.
    ledger.open_account(session, scheme.id, AccountKind.CASH, Asset.EUR_CENTS, _OWNER)
    ref = _test_cash(session, scheme.id)
    session.commit()
    stored = ledger.account(session, scheme.id, AccountKind.CASH, Asset.EUR_CENTS, _OWNER)
    assert _test_cash(session, scheme.id) == ref
    assert (ref.id, ref.kind, ref.asset) == (stored.id, stored.kind, stored.asset)
    session.commit()


def test_an_account_rolled_back_with_a_savepoint_is_not_remembered(session: Session) -> None:
    scheme = make_scheme(session)
    with pytest.raises(RuntimeError), session.begin_nested():
        ledger.open_account(session, scheme.id, AccountKind.CASH, Asset.EUR_CENTS, _OWNER)
        _test_cash(session, scheme.id)
        raise RuntimeError("undo the savepoint")
    session.commit()
    with pytest.raises(LookupError):
        _test_cash(session, scheme.id)
    session.rollback()


def test_an_account_of_a_released_savepoint_waits_for_the_outer_commit(session: Session) -> None:
    # campaigns.post_earn posts inside a savepoint that is released on success:
    # the transaction around it may still roll back.
    scheme = make_scheme(session)
    session.commit()
    with session.begin_nested():
        ledger.open_account(session, scheme.id, AccountKind.CASH, Asset.EUR_CENTS, _OWNER)
        _test_cash(session, scheme.id)
    assert _test_cash(session, scheme.id).id > 0
    session.rollback()
    with pytest.raises(LookupError):
        _test_cash(session, scheme.id)
    session.rollback()


def test_a_posted_balance_lasts_only_as_long_as_its_transaction(session: Session) -> None:
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    issued = ledger.account(
        session, scheme.id, AccountKind.MERCHANT_ISSUED, Asset.POINTS,
        ledger.merchant_owner(merchant.id),
    )
    account = wallets.points_account(session, wallet)
    value = scheme.point_value_cents

    def _earn_legs(points: int) -> list[ledger.Leg]:
        # Priced, with their euro legs, as every earn is (ledger verify checks it).
        return [
            ledger.Leg(issued, -points),
            ledger.Leg(account, points),
            *accounts.earn_legs(session, scheme.id, merchant.id, points, value),
        ]

    ledger.post(session, scheme.id, "earn", _earn_legs(7), point_value_cents=value)
    assert wallets.points_balance(session, wallet) == 7
    session.rollback()
    assert wallets.points_balance(session, wallet) == 0

    ledger.post(session, scheme.id, "earn", _earn_legs(3), point_value_cents=value)
    session.commit()
    assert wallets.points_balance(session, wallet) == 3
    session.commit()


# -- SQLite's writer queue -------------------------------------------------------------------


def _queue_is_free(lock_path: str) -> bool:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the descriptor also drops a lock we took
    return True


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
    yield engine
    engine.dispose()


def test_a_write_transaction_holds_the_queue_until_it_ends(
    sqlite_file: sa.Engine, tmp_path: Path
) -> None:
    lock_path = str(tmp_path / "queue.db-writers")
    with sqlite_file.connect() as conn:
        assert isinstance(conn.connection.dbapi_connection, QueuedWriterConnection)
        conn.begin()
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (1)")
        assert not _queue_is_free(lock_path)
        conn.commit()
        assert _queue_is_free(lock_path)

        conn.begin()
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (2)")
        conn.rollback()
        assert _queue_is_free(lock_path)

        # Reads begin deferred and do not queue.
        token = sqlite_begin_mode.set("DEFERRED")
        try:
            conn.begin()
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
            assert _queue_is_free(lock_path)
            conn.rollback()
        finally:
            sqlite_begin_mode.reset(token)


def test_a_second_writer_waits_for_the_first(sqlite_file: sa.Engine) -> None:
    first = sqlite_file.connect()
    first.begin()
    first.exec_driver_sql("INSERT INTO t (n) VALUES (1)")
    began = threading.Event()

    def second_writer() -> None:
        with sqlite_file.connect() as conn, conn.begin():
            began.set()
            conn.exec_driver_sql("INSERT INTO t (n) VALUES (2)")

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert not began.wait(0.5)  # queued behind the first writer
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert began.is_set() and not thread.is_alive()
    with sqlite_file.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t ORDER BY id").scalars().all() == [1, 2]


def test_a_thread_that_already_writes_does_not_queue_behind_itself(
    sqlite_file: sa.Engine,
) -> None:
    """It would wait forever; without the queue SQLite's busy timeout ends the wait."""
    done = threading.Event()

    def two_connections() -> None:
        with sqlite_file.connect() as first, sqlite_file.connect() as second:
            first.begin()
            dbapi = second.connection.dbapi_connection
            assert isinstance(dbapi, QueuedWriterConnection)
            dbapi.join_write_queue()  # returns at once
            done.set()
            first.rollback()

    thread = threading.Thread(target=two_connections, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert done.is_set()


def test_the_process_cache_stays_bounded(session: Session) -> None:
    cache = ProcessCache(max_entries=4)
    for n in range(6):
        session.execute(sa.select(1))
        cache.put(session, n, f"value {n}")
        session.commit()
    kept = {n: cache.get(session, n) for n in range(6)}
    assert kept[5] == "value 5" and kept[4] == "value 4"
    assert kept[0] is None and kept[1] is None  # the oldest were dropped
    assert sum(v is not None for v in kept.values()) <= 4


# -- the collect guard -----------------------------------------------------------------------


def test_a_wallet_frozen_after_its_token_was_read_cannot_collect(session: Session) -> None:
    # On SQLite the token is read in a transaction of its own before the write
    # lock (web.reading_first): the guard itself must see a freeze made since.
    now = datetime.now(UTC)
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    new = claims.create_claim(session, merchant, 1000, now)
    session.commit()
    assert wallet.status == WalletStatus.ACTIVE  # as the token lookup read it
    session.execute(
        sa.update(Wallet).where(Wallet.id == wallet.id).values(status=WalletStatus.FROZEN)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(Forbidden) as refused:
        claims.claim_points(session, new.token, wallet, now)
    assert refused.value.code == "wallet_frozen"
    assert session.get_one(Claim, new.claim.id).status == ClaimStatus.OPEN
    assert wallets.points_balance(session, wallet) == 0
    session.rollback()


# -- Core statements on the session's connection -------------------------------------------


def test_a_rolled_back_savepoint_undoes_the_core_statements(session: Session) -> None:
    # campaigns.post_earn tries a bonus in a savepoint and falls back to the plain
    # earn when the budget cannot pay: the half-written try must vanish.
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    account = wallets.points_account(session, wallet)
    issued = ledger.account(
        session, scheme.id, AccountKind.MERCHANT_ISSUED, Asset.POINTS,
        ledger.merchant_owner(merchant.id),
    )
    value = scheme.point_value_cents
    legs = [ledger.Leg(issued, -5), ledger.Leg(account, 5),
            *accounts.earn_legs(session, scheme.id, merchant.id, 5, value)]
    ledger.post(session, scheme.id, "earn", legs, point_value_cents=value)  # outside
    with pytest.raises(RuntimeError), session.begin_nested():
        ledger.post(session, scheme.id, "earn", legs, point_value_cents=value)
        raise RuntimeError("undo the savepoint")
    session.commit()
    assert wallets.points_balance(session, wallet) == 5
    kinds = session.scalars(
        sa.select(LedgerTransaction.kind).where(LedgerTransaction.scheme_id == scheme.id)
    ).all()
    assert kinds == ["earn"]
    assert ledger.verify(session).ok
    session.commit()


def test_a_till_key_lookup_reads_the_same_terms_as_the_orm(session: Session) -> None:
    scheme = make_scheme(session, claim_ttl_seconds=900)
    generous = make_merchant(session, scheme, earn_rate=3)  # above the scheme's 1
    plain = make_merchant(session, scheme)
    for merchant in (generous, plain):
        key = staff.create_till_key(session, merchant, utcnow()).secret
        # A key made while approved may belong to a shop that is pending again.
        merchant.status = MerchantStatus.PENDING if merchant is plain else merchant.status
        session.commit()
        assert staff.till_by_key(session, key).terms == claims.SaleTerms.of(merchant)
    assert claims.SaleTerms.of(generous).earn_rate == 3
    assert claims.SaleTerms.of(plain).claim_ttl_seconds == 900
    session.rollback()


def test_a_campaign_made_before_it_starts_pays_its_bonus_on_a_collect(session: Session) -> None:
    """The collect asks whether a campaign of the claim's scheme runs at the sale's
    time: not whether one ran when it was created (a campaign is made days ahead),
    nor whether another scheme's does."""
    from loyalty.earning import campaigns

    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    other = make_scheme(session)
    campaigns.create_campaign(  # another town's campaign, running at the sale's time
        session, other, name="Elders", starts_at=start, ends_at=start.replace(day=20),
        budget_cents=10_000, multiplier_pct=300, now=start.replace(day=1),
    )
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    # A claim rung up before this town's campaign starts earns the base points only.
    before = claims.create_claim(session, merchant, 1000, start.replace(day=1),
                                 ttl_seconds=7 * 86400)
    campaigns.create_campaign(
        session, scheme, name="Dubbel", starts_at=start, ends_at=start.replace(day=20),
        budget_cents=10_000, multiplier_pct=200, now=start.replace(day=1),
    )
    during = claims.create_claim(session, merchant, 1000, start.replace(day=3),
                                 ttl_seconds=7 * 86400)
    session.commit()
    base = claims.claim_points(session, before.token, wallet, start.replace(day=3))
    bonus = claims.claim_points(session, during.token, wallet, start.replace(day=3))
    session.commit()
    assert (base.points_credited, base.bonus_points) == (10, 0)
    assert (bonus.points_credited, bonus.bonus_points) == (20, 10)


# -- what goes along with a posting ------------------------------------------------------


def _link(transaction_id: sa.ColumnElement[int]) -> sa.Update:
    return (sa.update(Claim).where(Claim.id == sa.bindparam("linked_claim"))
            .values(transaction_id=transaction_id))


def _earn_legs(session: Session, scheme_id: int, merchant_id: int, wallet: Wallet,
               points: int, value: int) -> list[ledger.Leg]:
    issued = ledger.account(session, scheme_id, AccountKind.MERCHANT_ISSUED, Asset.POINTS,
                            ledger.merchant_owner(merchant_id))
    return [ledger.Leg(issued, -points), ledger.Leg(wallets.points_account(session, wallet),
                                                    points),
            *accounts.earn_legs(session, scheme_id, merchant_id, points, value)]


def test_a_statement_along_a_posting_is_written_with_its_transaction(session: Session) -> None:
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    claim = claims.create_claim(session, merchant, 700, utcnow()).claim
    session.commit()
    legs = _earn_legs(session, scheme.id, merchant.id, wallet, 7, scheme.point_value_cents)
    txn_id = ledger.post(session, scheme.id, "earn", legs,
                         point_value_cents=scheme.point_value_cents,
                         along=[ledger.Along(_link, {"linked_claim": claim.id})])
    session.commit()
    assert session.scalar(sa.select(Claim.transaction_id).where(Claim.id == claim.id)) == txn_id
    assert wallets.points_balance(session, wallet) == 7
    assert ledger.verify(session).ok
    session.commit()


def test_a_statement_along_a_refused_posting_is_not_written(session: Session) -> None:
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    claim = claims.create_claim(session, merchant, 700, utcnow()).claim
    session.commit()
    # Spending 5 points from an empty wallet: its floor refuses the whole posting.
    legs = [ledger.Leg(leg.account, -leg.amount)
            for leg in _earn_legs(session, scheme.id, merchant.id, wallet, 5,
                                scheme.point_value_cents)]
    with pytest.raises(InsufficientBalance), session.begin_nested():
        ledger.post(session, scheme.id, "earn", legs, point_value_cents=scheme.point_value_cents,
                    along=[ledger.Along(_link, {"linked_claim": claim.id})])
    session.commit()
    assert session.scalar(sa.select(Claim.transaction_id).where(Claim.id == claim.id)) is None
    assert wallets.points_balance(session, wallet) == 0
    session.commit()


def test_a_collect_takes_three_statements_on_postgresql(session: Session) -> None:
    """The guard with its shop, and the posting with the claim's link and the sale's
    event, each one statement on PostgreSQL; SQLite, without data-modifying WITH,
    runs the same work as seven. (The wallet's token is read before, by the API.)"""
    from loyalty.models import PurchaseEvent

    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    new = claims.create_claim(session, merchant, 1250, utcnow())
    session.commit()
    claims.claim_points(session, claims.create_claim(session, merchant, 100, utcnow()).token,
                        wallet, utcnow())  # the account ids and pseudonym key are known now
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        result = claims.claim_points(session, new.token, wallet, utcnow())
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    session.commit()
    postgres = engine.dialect.name == "postgresql"
    assert len(statements) == (2 if postgres else 7), statements
    assert result.points_credited == 12
    stored = session.get_one(Claim, new.id)
    session.refresh(stored)
    assert stored.status == ClaimStatus.CLAIMED and stored.transaction_id == result.transaction_id
    assert session.scalar(sa.select(sa.func.count()).select_from(PurchaseEvent).where(
        PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.amount_cents == 1250)) == 1
    session.commit()
