"""Bought town money under concurrency: a top-up's webhook delivered five times at
once credits once, two wallets redeeming one code at once get one credit, and an
order's transfer recorded from five threads issues its codes once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import EuroCredit, GiftVoucher, Role, Scheme
from loyalty.money import euros, vouchers
from tests.conftest import LiveServer, count
from tests.factories import bearer, make_scheme, make_user, make_wallet_token
from tests.race.helpers import TIMEOUT, answer, post, race, wallet_of
from tests.stripe_stub import checkout_session, event, signed_delivery


def _delivery(url: str, evt: dict[str, Any], secret: str) -> Any:
    body, headers = signed_delivery(evt, secret)
    return lambda: answer(requests.post(url, data=body, headers=headers, timeout=TIMEOUT))


def _paid(purpose: str, scheme: Scheme, amount: int, **metadata: str) -> dict[str, Any]:
    return event("checkout.session.completed", checkout_session(
        amount, metadata={"purpose": purpose, "scheme_id": str(scheme.id), **metadata}))


def test_five_concurrent_deliveries_of_a_top_up_credit_the_wallet_once(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db)
    token = make_wallet_token(db, scheme)
    wallet = wallet_of(db, token)
    db.commit()
    evt = _paid(vouchers.TOP_UP, scheme, 5000, wallet_id=str(wallet.id))
    url = live_server.api("/stripe/webhook")
    answers = race([_delivery(url, evt, live_server.stripe_webhook_secret) for _ in range(5)])
    assert [a.status for a in answers] == [200] * 5, answers
    assert sorted(a.body["credited"] for a in answers) == [False] * 4 + [True], answers
    db.expire_all()
    assert euros.balance(db, wallet) == 5000
    assert count(db, sa.select(EuroCredit.id).where(EuroCredit.wallet_id == wallet.id)) == 1
    db.commit()
    verify_ledger()


def test_two_wallets_redeeming_one_code_at_once_one_wins(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db)
    paid = vouchers.handle_event(db, _paid(vouchers.GIFT, scheme, 2500), utcnow())
    assert paid is not None and paid.voucher is not None
    code = paid.voucher.code
    tokens = [make_wallet_token(db, scheme) for _ in range(4)]
    db.commit()
    answers = race([
        post(live_server.api("/wallet/vouchers"), bearer(t), json={"code": code})
        for t in tokens
    ])
    assert Counter(a.status for a in answers) == {200: 1, 409: 3}, answers
    db.expire_all()
    assert sorted(euros.balance(db, wallet_of(db, t)) for t in tokens) == [0, 0, 0, 2500]
    assert vouchers.outstanding_cents(db, scheme.id) == 0
    db.commit()
    verify_ledger()


def test_an_orders_transfer_recorded_from_five_threads_issues_its_codes_once(
    app: Flask, db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db)
    admin = make_user(db, scheme, Role.MUNICIPALITY_ADMIN)
    order = vouchers.create_order(
        db, scheme, company_name="Garage Peeters", vat_number="BE0999888777",
        email="info@peeters.example", quantity=7, amount_cents=1000, now=utcnow(),
    )
    db.commit()
    order_id = order.id
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(5, timeout=TIMEOUT)
    results: list[Any] = []

    def record() -> None:
        with factory() as s:
            barrier.wait()
            try:
                found = vouchers.get_order(s, scheme.id, order_id)
                results.append(vouchers.record_transfer(
                    s, found, "BANK-7", recorded_by_id=admin.id, now=utcnow()))
                s.commit()
            except sa.exc.OperationalError as error:  # SQLite: busy past its timeout
                results.append(error)

    threads = [threading.Thread(target=record) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert sorted(results, key=str) == [False] * 4 + [True], results
    db.expire_all()
    assert count(db, sa.select(GiftVoucher.id).where(GiftVoucher.order_id == order_id)) == 7
    assert vouchers.outstanding_cents(db, scheme.id) == 7000
    db.commit()
    verify_ledger()


