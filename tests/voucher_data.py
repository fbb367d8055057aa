"""Stripe deliveries of bought town money, and reading the euros they left."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.stripe_stub import StripeStub, complete_checkout_session, event, signed_delivery

SECRET = "whsec_test_voucher_secret"
STRIPE_KEY = "sk_test_vouchers"
WEBHOOK = "/api/v1/stripe/webhook"


def session_id_of(checkout_url: str) -> str:
    return checkout_url.rsplit("/", 1)[1]


def pay(stub: StripeStub, checkout_url: str) -> dict[str, Any]:
    """What Stripe sends once the buyer paid on the checkout page: the signed event."""
    return event("checkout.session.completed",
                 complete_checkout_session(stub, session_id_of(checkout_url)))


def deliver(client: FlaskClient, evt: dict[str, Any]) -> Any:
    body, headers = signed_delivery(evt, SECRET)
    return client.post(WEBHOOK, data=body, headers=headers)
