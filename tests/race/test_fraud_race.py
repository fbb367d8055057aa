"""Fraud flags under concurrency: checks running at once store each flag once, and two
admins acting on one flag at once: one wins, the other is told (one audit entry)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.errors import Conflict
from loyalty.infra.db import utcnow
from loyalty.models import AuditEntry, FraudFlag, Role, Scheme, StaffUser
from loyalty.oversight import fraud
from loyalty.shoppers import wallets
from tests.factories import make_shop, make_user
from tests.municipality_dashboard.fraud_data import DAY, at, sale

THREADS = 6
TIMEOUT = 60


def _together(app: Flask, job: Any) -> list[Any]:
    """Run ``job(session)`` in THREADS threads at once, each in its own transaction."""
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(THREADS, timeout=TIMEOUT)

    def run(_n: int) -> Any:
        barrier.wait()
        try:
            with factory() as s, s.begin():
                return job(s)
        except Conflict as error:
            return error

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, range(THREADS), timeout=TIMEOUT))


def test_concurrent_checks_store_each_flag_once(app: Flask, db: Session) -> None:
    shop = make_shop(db)
    wallet = wallets.create_wallet(db, shop.scheme).wallet
    for i in range(7):
        sale(db, shop.merchant, wallet, 1000, at(DAY, 9, 5 * i))
    db.commit()
    scheme_id = shop.scheme.id

    def check(s: Session) -> int:
        return len(fraud.check(s, s.get_one(Scheme, scheme_id), DAY, utcnow()).created)

    created = _together(app, check)
    assert sum(created) == 1, created
    db.expire_all()
    flags = db.scalars(sa.select(FraudFlag).where(FraudFlag.scheme_id == scheme_id)).all()
    assert [(f.rule, f.subject_id) for f in flags] == [("wallet_claims_at_shop", wallet.id)]


def test_one_flag_is_dismissed_once(app: Flask, db: Session) -> None:
    shop = make_shop(db)
    admins = [make_user(db, shop.scheme, Role.MUNICIPALITY_ADMIN).id for _ in range(THREADS)]
    flag = FraudFlag(
        scheme_id=shop.scheme.id,
        rule="wallet_claims_at_shop",
        subject_type="wallet",
        subject_id=wallets.create_wallet(db, shop.scheme).wallet.id,
        merchant_id=shop.merchant.id,
        day=DAY,
        reason="r",
        evidence={},
    )
    db.add(flag)
    db.commit()
    flag_id = flag.id
    turn = iter(admins)
    lock = threading.Lock()

    def dismiss(s: Session) -> int:
        with lock:
            admin_id = next(turn)
        fraud.dismiss(
            s, s.get_one(FraudFlag, flag_id), s.get_one(StaffUser, admin_id), "seen", utcnow()
        )
        return admin_id

    answers = _together(app, dismiss)
    winners = [a for a in answers if isinstance(a, int)]
    assert len(winners) == 1, answers
    assert all(
        isinstance(a, Conflict) and a.code == "flag_closed"
        for a in answers
        if not isinstance(a, int)
    )
    db.expire_all()
    assert db.get_one(FraudFlag, flag_id).resolved_by_id == winners[0]
    entries = db.scalars(sa.select(AuditEntry).where(AuditEntry.scheme_id == shop.scheme.id))
    assert [(e.action, e.actor_id) for e in entries] == [("fraud.dismiss", winners[0])]
