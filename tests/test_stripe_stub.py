"""The Stripe stand-in speaks the wire format the stripe library expects."""

from __future__ import annotations

import json

import pytest
import stripe

from tests.stripe_stub import StripeError, StripeStub, event, sign, signed_delivery


def client(stub: StripeStub, key: str = "sk_test_stub") -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": stub.url}, max_network_retries=0)


def test_checkout_session_round_trip(stripe_stub: StripeStub) -> None:
    session = client(stripe_stub).v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "payment_method_types": ["card", "bancontact"],
            "line_items": [
                {"price_data": {"currency": "eur", "unit_amount": 2500,
                                "product_data": {"name": "Top-up"}}, "quantity": 1}
            ],
            "metadata": {"merchant_id": "7"},
            "success_url": "https://example.be/ok",
        }
    )
    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_test_")
    assert session.amount_total == 2500
    assert session.currency == "eur"
    assert session.payment_status == "unpaid"
    assert session.url and session.url.startswith(stripe_stub.url)
    (sent,) = stripe_stub.received("POST", "/v1/checkout/sessions")
    assert sent.params["payment_method_types"] == ["card", "bancontact"]
    assert sent.params["line_items"][0]["price_data"]["unit_amount"] == "2500"
    assert sent.params["metadata"] == {"merchant_id": "7"}
    again = client(stripe_stub).v1.checkout.sessions.retrieve(session.id)
    assert again.id == session.id


def test_errors_have_stripes_shape(stripe_stub: StripeStub) -> None:
    with pytest.raises(stripe.AuthenticationError):
        client(stripe_stub, key="pk_live_wrong").v1.checkout.sessions.retrieve("cs_test_x")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client(stripe_stub).v1.checkout.sessions.retrieve("cs_test_nope")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    stripe_stub.fail_next("POST", "/v1/checkout/sessions", StripeError(400, "Boom", param="mode"))
    with pytest.raises(stripe.InvalidRequestError) as failed:
        client(stripe_stub).v1.checkout.sessions.create(params={"mode": "payment"})
    assert failed.value.user_message == "Boom"
    assert failed.value.param == "mode"


def test_signed_events_pass_the_librarys_verification() -> None:
    evt = event("checkout.session.completed", {"id": "cs_test_1", "object": "checkout.session"})
    body, headers = signed_delivery(evt, "whsec_abc")
    parsed = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_abc")
    assert parsed.type == "checkout.session.completed"
    assert parsed.data.object.id == "cs_test_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_other")
    tampered = json.dumps({**evt, "type": "x"})
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, sign(body.decode(), "whsec_abc"), "whsec_abc")


def test_a_repeated_idempotency_key_replays_the_first_answer(stripe_stub: StripeStub) -> None:
    params: dict = {
        "mode": "payment",
        "line_items": [{"price_data": {"currency": "eur", "unit_amount": 1000,
                                       "product_data": {"name": "x"}}, "quantity": 1}],
        "success_url": "https://example.be/ok",
    }
    sessions = client(stripe_stub).v1.checkout.sessions
    first = sessions.create(params=params, options={"idempotency_key": "top-up-1"})
    again = sessions.create(params=params, options={"idempotency_key": "top-up-1"})
    assert again.id == first.id
    assert len(stripe_stub.received("POST", "/v1/checkout/sessions")) == 2
    assert len([o for o in stripe_stub.objects.values() if o["object"] == "checkout.session"]) == 1
    with pytest.raises(stripe.IdempotencyError):
        sessions.create(params={**params, "mode": "setup"},
                        options={"idempotency_key": "top-up-1"})
