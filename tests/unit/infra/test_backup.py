"""Backups: consistent under write load, restored into an empty database only (or
with force), refused when they are not backups of this kind of database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import Conflict, InvalidInput
from loyalty.infra import backup
from loyalty.infra.db import make_engine, make_session_factory, utcnow
from loyalty.infra.migrate import upgrade
from loyalty.models import Claim, ClaimStatus, LedgerTransaction, Merchant, Scheme
from loyalty.money import ledger
from loyalty.shoppers import wallets
from tests.factories import make_merchant, make_scheme


def _sell(app: Flask, scheme_id: int, merchant_id: int, stop: threading.Event,
          committed: list[int], failures: list[BaseException]) -> None:
    """Sales collected one after the other, each in its own transaction, until ``stop``."""
    factory = app.extensions["loyalty.sessions"]
    try:
        while not stop.is_set():
            with factory() as s, s.begin():
                scheme = s.get_one(Scheme, scheme_id)
                wallet = wallets.create_wallet(s, scheme).wallet
                new = claims.create_claim(s, s.get_one(Merchant, merchant_id), 1250, utcnow())
                claims.collect(s, new.claim, wallet, utcnow())
                claim_id = new.claim.id
            committed.append(claim_id)  # only once the transaction committed
    except BaseException as error:  # noqa: BLE001  (reported by the test)
        failures.append(error)


def _restored(url: str, scheme_id: int) -> tuple[set[int], bool, int]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            claimed = set(s.scalars(sa.select(Claim.id).where(
                Claim.scheme_id == scheme_id, Claim.status == ClaimStatus.CLAIMED)))
            # Every restored sale has its ledger transaction: one consistent moment.
            orphans = s.scalar(
                sa.select(sa.func.count()).select_from(Claim)
                .outerjoin(LedgerTransaction, LedgerTransaction.id == Claim.transaction_id)
                .where(Claim.scheme_id == scheme_id, Claim.status == ClaimStatus.CLAIMED,
                       LedgerTransaction.id.is_(None))
            ) or 0
            return claimed, ledger.verify(s).ok, orphans
    finally:
        engine.dispose()


def test_a_backup_taken_under_write_load_restores_every_committed_sale(
    app: Flask, session: Session, database_url: str, tmp_path: Path,
    new_empty_database: Callable[[], str],
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    scheme_id, merchant_id = scheme.id, shop.id
    session.commit()
    stop, committed, failures = threading.Event(), [], []  # type: ignore[var-annotated]
    writer = threading.Thread(target=_sell, args=(app, scheme_id, merchant_id, stop,
                                                  committed, failures))
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(committed) < 20 and time.monotonic() < deadline and not failures:
            time.sleep(0.01)
        before = set(committed)  # committed before the backup began
        info = backup.backup(database_url, tmp_path / "under-load.backup")
        while len(committed) < len(before) + 5 and time.monotonic() < deadline:
            time.sleep(0.01)  # the writer went on during and after the backup
    finally:
        stop.set()
        writer.join(30)
    assert not failures, failures
    assert len(before) >= 20 and len(committed) > len(before)
    assert info.size > 0 and backup.kind_of_file(info.path) == info.kind

    target = new_empty_database()
    assert backup.restore(target, info.path) == info.kind
    restored, ledger_ok, orphans = _restored(target, scheme_id)
    assert before <= restored  # every sale committed before the backup is in it
    assert restored <= set(committed)  # and nothing that was never committed
    assert ledger_ok and orphans == 0


def test_restore_wants_an_empty_database_or_force(
    session: Session, tmp_path: Path, new_empty_database: Callable[[], str]
) -> None:
    source = new_empty_database()
    upgrade(source)
    engine = make_engine(source)
    try:
        with make_session_factory(engine)() as s:
            make_scheme(s)
    finally:
        engine.dispose()
    saved = backup.backup(source, tmp_path / "one.backup").path

    target = new_empty_database()
    upgrade(target)  # migrated but empty: still empty
    backup.restore(target, saved)
    with pytest.raises(Conflict) as in_use:
        backup.restore(target, saved)
    assert in_use.value.code == "database_in_use"
    backup.restore(target, saved, force=True)
    engine = make_engine(target)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(Scheme)) == 1
    finally:
        engine.dispose()


def test_a_file_that_is_no_backup_of_this_kind_is_refused(
    tmp_path: Path, new_empty_database: Callable[[], str]
) -> None:
    target = new_empty_database()
    other = tmp_path / "other.backup"
    other.write_bytes(
        backup.SQLITE_MAGIC if target.startswith("postgresql") else backup.PG_MAGIC + b"\0" * 20
    )
    with pytest.raises(InvalidInput) as wrong:
        backup.restore(target, other)
    assert wrong.value.code == "wrong_kind"
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    with pytest.raises(InvalidInput) as not_one:
        backup.restore(target, junk)
    assert not_one.value.code == "not_a_backup"
    with pytest.raises(InvalidInput):
        backup.restore(target, tmp_path / "missing.backup")
