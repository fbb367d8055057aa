"""Corrections of a sale raced against each other and against a spend of the same
wallet, each in its own database session and thread, released together."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.earning import claims, corrections
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Claim, Merchant, Role, SaleCorrection, StaffUser, Wallet
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme, make_user

TIMEOUT = 60


def _burst(app: Flask, work: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each piece of work in its own thread and transaction, all at once; an
    expected refusal is returned as its code."""
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(len(work), timeout=TIMEOUT)
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        barrier.wait()
        try:
            with factory() as s, s.begin():
                results[i] = work[i](s)
        except LoyaltyError as error:
            results[i] = error.code
        except BaseException as error:  # noqa: BLE001  (reported by the test)
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    return results


def _collected(session: Session, shop: Merchant, cents: int) -> tuple[int, int]:
    scheme = shop.scheme
    wallet = wallets.create_wallet(session, scheme).wallet
    new = claims.create_claim(session, shop, cents, utcnow())
    claims.collect(session, new.claim, wallet, utcnow())
    session.commit()
    return new.claim.id, wallet.id


def _correct(claim_id: int, owner_id: int) -> Callable[[Session], Any]:
    def work(s: Session) -> Any:
        claim = s.get_one(Claim, claim_id)
        shop = s.get_one(Merchant, claim.merchant_id)
        done = corrections.correct_sale(s, claim, shop, s.get_one(StaffUser, owner_id),
                                        "raced", utcnow())
        return ("corrected", done.points_taken_back, done.points_not_recovered)
    return work


def test_six_owners_correct_one_sale_at_once(
    app: Flask, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    claim_id, wallet_id = _collected(session, shop, 12_000)  # 120 points

    results = _burst(app, [_correct(claim_id, owner.id) for _ in range(6)])

    assert Counter(r if isinstance(r, str) else r[0] for r in results) == {
        "corrected": 1, "already_corrected": 5,
    }, results
    assert [r for r in results if isinstance(r, tuple)] == [("corrected", 120, 0)]
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(SaleCorrection)
                          .where(SaleCorrection.claim_id == claim_id)) == 1
    assert wallets.points_balance(session, session.get_one(Wallet, wallet_id)) == 0
    verify_ledger()


def test_a_correction_races_spends_of_the_same_wallet(
    app: Flask, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    claim_id, wallet_id = _collected(session, shop, 10_000)  # 100 points

    def spend(s: Session) -> Any:
        redemptions.create_redemption(s, s.get_one(Wallet, wallet_id), 30, utcnow())
        return ("spent", 30)

    results = _burst(app, [_correct(claim_id, owner.id), spend, spend, spend])

    assert not [r for r in results if isinstance(r, BaseException)], results
    (corrected,) = [r for r in results if isinstance(r, tuple) and r[0] == "corrected"]
    spent = sum(r[1] for r in results if isinstance(r, tuple) and r[0] == "spent")
    refused = [r for r in results if isinstance(r, str)]
    assert set(refused) <= {"insufficient_balance"}
    _, taken, not_recovered = corrected
    # Every point of the sale is either taken back or spent, never both, never lost.
    assert taken + spent == 100 and not_recovered == spent
    session.expire_all()
    assert wallets.points_balance(session, session.get_one(Wallet, wallet_id)) == 0
    verify_ledger()
