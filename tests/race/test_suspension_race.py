"""A shop suspended while shoppers collect its sales (live server, real threads).

The suspension (onboarding.decide, in a transaction of its own like the
dashboard's button) cancels the shop's open claims while wallets collect them.
Whatever the order, a claim is either collected and credited once, or
cancelled and credited never, and the audit entry counts the cancelled ones.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import (
    AuditEntry,
    Claim,
    ClaimStatus,
    Merchant,
    MerchantStatus,
    Role,
    StaffUser,
)
from loyalty.shops import onboarding
from tests.conftest import LiveServer
from tests.factories import bearer, make_shop, make_user, make_wallet_token
from tests.race.helpers import (
    Answer,
    balance_of_wallet,
    open_claim,
    post,
    race,
    transactions,
    wallet_of,
)

SALES = 16


def test_a_suspension_racing_collects_credits_no_cancelled_claim(
    live_server: LiveServer, app: Flask, db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    scheme_id, merchant_id = shop.scheme.id, shop.merchant.id
    admin_id = make_user(db, shop.scheme, Role.MUNICIPALITY_ADMIN).id
    sales = [open_claim(db, shop.merchant, 1000 + 100 * i) for i in range(SALES)]
    wallet_tokens = [make_wallet_token(db, shop.scheme) for _ in range(SALES)]
    wallet_ids = [wallet_of(db, t).id for t in wallet_tokens]
    db.commit()
    factory = app.extensions["loyalty.sessions"]

    def suspend() -> Answer:
        # A head start for the collects, so that the suspension lands among them
        # rather than before all of them (HTTP takes longer than this thread).
        time.sleep(0.05)
        with factory() as s, s.begin():
            onboarding.decide(s, s.get_one(Merchant, merchant_id), MerchantStatus.SUSPENDED,
                              s.get_one(StaffUser, admin_id))
        return Answer(0, None, False)

    collects = [post(live_server.api(f"/claims/{token}/claim"), bearer(wallet))
                for (token, _), wallet in zip(sales, wallet_tokens, strict=True)]
    answers = race([*collects[: SALES // 2], suspend, *collects[SALES // 2:]])
    del answers[SALES // 2]  # the suspension's

    refused = Counter((a.status, a.error_code) for a in answers if a.status != 200)
    assert set(refused) <= {(409, "claim_cancelled"), (403, "merchant_not_approved")}, answers
    db.expire_all()
    cancelled = 0
    for (_, claim_id), wallet_id, answer in zip(sales, wallet_ids, answers, strict=True):
        claim = db.get_one(Claim, claim_id)
        balance = balance_of_wallet(db, wallet_id, scheme_id)
        earns = transactions(db, "earn", f"claim #{claim_id}")
        if answer.status == 200:
            assert (claim.status, claim.wallet_id, balance, earns) == (
                ClaimStatus.CLAIMED, wallet_id, claim.points, 1
            )
        else:
            # Refused: the sale is cancelled and nothing was credited.
            assert (claim.status, claim.wallet_id, balance, earns) == (
                ClaimStatus.CANCELLED, None, 0, 0
            )
            cancelled += 1
    [entry] = db.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "merchant.suspend", AuditEntry.target_id == merchant_id
    )).all()
    assert entry.details["claims_cancelled"] == cancelled
    assert entry.details["till_keys_revoked"] == 1
    db.commit()

    # Afterwards nothing of the shop works: not its till key, not its cancelled sales.
    again = race([*collects, post(live_server.api("/claims"), shop.headers,
                                   {"amount_cents": 1000})])
    assert again[-1].status == 401
    assert all(a.status in (409, 403) for a in again[:-1]), again
    assert sum(balance_of_wallet(db, w, scheme_id) for w in wallet_ids) == sum(
        db.get_one(Claim, claim_id).points
        for (_, claim_id), a in zip(sales, answers, strict=True) if a.status == 200
    )
    db.commit()
    verify_ledger()
