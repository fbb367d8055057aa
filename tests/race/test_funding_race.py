"""A top-up is credited once, however many deliveries of it race each other.

Stripe retries a webhook it saw no answer to, and may deliver the same event
twice at once; an admin may record the same bank transfer from two tabs. The
unique key of the prepayments table must let exactly one of them post.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.errors import Conflict
from loyalty.models import Role
from loyalty.money import funding
from tests.conftest import LiveServer
from tests.factories import make_shop, make_user
from tests.funding_data import paid_session_event, prepaid, prepayment_rows
from tests.race.helpers import TIMEOUT, Answer, answer, race
from tests.stripe_stub import event, signed_delivery


def _delivery(url: str, evt: dict[str, Any], secret: str) -> Any:
    # Signed per delivery, as Stripe signs every retry afresh.
    body, headers = signed_delivery(evt, secret)

    def call() -> Answer:
        return answer(requests.post(url, data=body, headers=headers, timeout=TIMEOUT))

    return call


def test_five_concurrent_deliveries_credit_once(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    db.commit()
    evt = paid_session_event(shop.merchant, 75_00)
    url = live_server.api("/stripe/webhook")
    answers = race([_delivery(url, evt, live_server.stripe_webhook_secret) for _ in range(5)])
    assert [a.status for a in answers] == [200] * 5, answers
    assert sorted(a.body["credited"] for a in answers) == [False] * 4 + [True]
    assert prepaid(db, shop.merchant) == 75_00
    assert len(prepayment_rows(db, shop.merchant)) == 1
    verify_ledger()


def test_completed_and_async_success_racing_credit_once(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    db.commit()
    completed = paid_session_event(shop.merchant, 12_34)
    succeeded = event("checkout.session.async_payment_succeeded", completed["data"]["object"])
    url = live_server.api("/stripe/webhook")
    secret = live_server.stripe_webhook_secret
    answers = race([_delivery(url, e, secret) for e in [completed, succeeded] * 3])
    assert [a.status for a in answers] == [200] * 6, answers
    assert sum(a.body["credited"] for a in answers) == 1
    assert prepaid(db, shop.merchant) == 12_34
    verify_ledger()


def test_one_bank_transfer_recorded_from_five_threads_credits_once(
    app: Flask, db: Session, verify_ledger: Any
) -> None:
    """Threads with their own sessions and transactions, as five admin requests would be."""
    shop = make_shop(db)
    admin = make_user(db, shop.scheme, Role.MUNICIPALITY_ADMIN)
    db.commit()
    reference = f"BANK-{uuid.uuid4().hex[:8]}"
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(5, timeout=TIMEOUT)
    results: list[Any] = []

    def record() -> None:
        with factory() as s:
            barrier.wait()
            try:
                _, created = funding.record_bank_transfer(
                    s, shop.scheme.id, shop.merchant.id, 50_00, reference,
                    recorded_by_id=admin.id,
                )
                s.commit()
                results.append(created)
            except (Conflict, sa.exc.OperationalError) as error:
                results.append(error)

    threads = [threading.Thread(target=record) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert sorted(results, key=str) == [False] * 4 + [True], results
    assert prepaid(db, shop.merchant) == 50_00
    verify_ledger()
