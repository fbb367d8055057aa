"""POST /api/v1/stripe/webhook: Stripe's signature, exactly-once credit, everything else ignored."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import LedgerTransaction
from tests.factories import make_shop
from tests.funding_data import SECRET, paid_session_event, prepaid, prepayment_rows
from tests.stripe_stub import checkout_session, event, sign, signed_delivery

URL = "/api/v1/stripe/webhook"


@pytest.fixture
def stripe_client(app: Flask) -> FlaskClient:
    app.config["STRIPE_WEBHOOK_SECRET"] = SECRET
    return app.test_client()


def deliver(client: FlaskClient, evt: dict[str, Any], secret: str = SECRET) -> Any:
    body, headers = signed_delivery(evt, secret)
    return client.post(URL, data=body, headers=headers)


def test_paid_session_credits_the_prepaid_balance_once_however_often_it_comes(
    stripe_client: FlaskClient, session: Session, verify_ledger: Any
) -> None:
    shop = make_shop(session)
    evt = paid_session_event(shop.merchant, 42_50)
    answers = [deliver(stripe_client, evt) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json["credited"] for a in answers] == [True, False, False, False, False]
    assert prepaid(session, shop.merchant) == 42_50
    (row,) = prepayment_rows(session, shop.merchant)
    assert (row.method, row.reference, row.amount_cents) == (
        "stripe", evt["data"]["object"]["id"], 42_50,
    )
    txn = session.get_one(LedgerTransaction, row.transaction_id)
    legs = sorted(p.amount for p in txn.postings)
    assert legs == [-42_50, 42_50]
    verify_ledger()


def test_the_amount_is_what_stripe_charged(
    stripe_client: FlaskClient, session: Session
) -> None:
    """amount_total of the session, whatever line items or subtotal say."""
    shop = make_shop(session)
    evt = paid_session_event(shop.merchant, 30_00, amount_subtotal=50_00)
    assert deliver(stripe_client, evt).status_code == 200
    assert prepaid(session, shop.merchant) == 30_00


def test_a_later_async_success_of_the_same_session_does_not_credit_again(
    stripe_client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    first = paid_session_event(shop.merchant, 20_00)
    later = event("checkout.session.async_payment_succeeded", first["data"]["object"])
    assert deliver(stripe_client, first).json["credited"] is True
    assert deliver(stripe_client, later).json["credited"] is False
    assert prepaid(session, shop.merchant) == 20_00


def test_two_sessions_are_two_credits(stripe_client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    deliver(stripe_client, paid_session_event(shop.merchant, 10_00))
    deliver(stripe_client, paid_session_event(shop.merchant, 15_00))
    assert prepaid(session, shop.merchant) == 25_00


def test_tampered_body_is_refused_with_400_logged_and_credits_nothing(
    stripe_client: FlaskClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    shop = make_shop(session)
    evt = paid_session_event(shop.merchant, 10_00)
    body, headers = signed_delivery(evt, SECRET)
    tampered = body.replace(b'"amount_total": 1000', b'"amount_total": 99999')
    assert tampered != body
    with caplog.at_level(logging.WARNING, logger="loyalty.api.stripe_webhook"):
        answer = stripe_client.post(URL, data=tampered, headers=headers)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_signature"
    assert any(
        r.levelno == logging.WARNING and "invalid signature" in r.getMessage()
        for r in caplog.records
    )
    assert prepaid(session, shop.merchant) == 0
    assert prepayment_rows(session, shop.merchant) == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: {"Stripe-Signature": sign(body, "whsec_someone_else")},
                     id="wrong secret"),
        pytest.param(lambda body: {}, id="no signature"),
        pytest.param(lambda body: {"Stripe-Signature": "t=1,v1=abc"}, id="garbage"),
        pytest.param(
            # A correct signature from ten minutes ago: a replayed capture.
            lambda body: {"Stripe-Signature": sign(body, SECRET, timestamp=_minutes_ago(10))},
            id="too old",
        ),
    ],
)
def test_deliveries_without_a_valid_signature_are_refused(
    stripe_client: FlaskClient, session: Session, headers: Any
) -> None:
    shop = make_shop(session)
    body = json.dumps(paid_session_event(shop.merchant, 10_00))
    answer = stripe_client.post(
        URL, data=body, headers={"Content-Type": "application/json", **headers(body)}
    )
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_signature"
    assert prepaid(session, shop.merchant) == 0


def _minutes_ago(minutes: int) -> int:
    import time

    return int(time.time()) - minutes * 60


def test_unpaid_session_credits_nothing(stripe_client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    evt = paid_session_event(shop.merchant, 10_00, payment_status="unpaid")
    answer = deliver(stripe_client, evt)
    assert answer.status_code == 200
    assert answer.json == {"received": True, "credited": False, "result": "not paid yet"}
    assert prepaid(session, shop.merchant) == 0
    assert prepayment_rows(session, shop.merchant) == []


@pytest.mark.parametrize(
    "event_type", ["payment_intent.succeeded", "checkout.session.expired", "charge.refunded"]
)
def test_other_events_are_acknowledged_and_ignored(
    stripe_client: FlaskClient, session: Session, event_type: str
) -> None:
    shop = make_shop(session)
    evt = paid_session_event(shop.merchant, 10_00, event_type=event_type)
    answer = deliver(stripe_client, evt)
    assert answer.status_code == 200
    assert answer.json["credited"] is False
    assert prepaid(session, shop.merchant) == 0


def test_sessions_of_other_apps_on_the_same_account_are_ignored(
    stripe_client: FlaskClient, session: Session
) -> None:
    evt = event("checkout.session.completed", checkout_session(10_00, metadata={}))
    answer = deliver(stripe_client, evt)
    assert answer.status_code == 200
    assert answer.json["credited"] is False


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"currency": "usd"}, id="not euro"),
        pytest.param({"metadata": {"merchant_id": "999999999", "scheme_id": "1"}},
                     id="unknown shop"),
        pytest.param({"amount_total": None}, id="no amount"),
    ],
)
def test_paid_sessions_we_cannot_credit_fail_so_stripe_retries(
    stripe_client: FlaskClient, session: Session, change: dict[str, Any]
) -> None:
    shop = make_shop(session)
    evt = paid_session_event(shop.merchant, 10_00)
    evt["data"]["object"].update(change)
    answer = deliver(stripe_client, evt)
    assert answer.status_code == 422
    assert set(answer.json["error"]) >= {"code", "message"}
    assert prepaid(session, shop.merchant) == 0


def test_a_shop_of_another_scheme_is_not_credited(
    stripe_client: FlaskClient, session: Session
) -> None:
    shop, other = make_shop(session), make_shop(session)
    evt = paid_session_event(shop.merchant, 10_00)
    evt["data"]["object"]["metadata"]["scheme_id"] = str(other.scheme.id)
    assert deliver(stripe_client, evt).status_code == 422
    assert prepaid(session, shop.merchant) == 0


def test_without_a_webhook_secret_nothing_is_accepted(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    answer = deliver(client, paid_session_event(shop.merchant, 10_00))
    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "not_found"
    assert prepaid(session, shop.merchant) == 0


def test_signed_body_that_is_not_json_is_a_400(stripe_client: FlaskClient) -> None:
    body = "not json {"
    answer = stripe_client.post(
        URL, data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(body, SECRET)},
    )
    assert answer.status_code == 400
    assert "error" in answer.json
