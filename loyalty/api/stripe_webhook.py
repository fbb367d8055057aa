"""Stripe's webhook: the only way a Stripe payment reaches a shop's prepaid balance,
a wallet's euros (a top-up) or a gift voucher.

Not part of the documented API: Stripe calls it, with neither session nor
token. What authenticates a delivery is its ``Stripe-Signature`` header, an
HMAC-SHA256 of the timestamp and the exact body with the endpoint's secret
(STRIPE_WEBHOOK_SECRET), checked by ``stripe.Webhook.construct_event``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from flask import Blueprint, current_app, jsonify, request

from loyalty.api import PREFIX, error_response
from loyalty.errors import InvalidInput
from loyalty.infra.db import utcnow
from loyalty.money import funding, vouchers
from loyalty.web import db, voucher_mail

bp = Blueprint("stripe_webhook", __name__)
log = logging.getLogger(__name__)


@bp.post(PREFIX + "/stripe/webhook")
def webhook() -> Any:
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return error_response(404, "not_found", "Stripe payments are not configured here")
    payload = request.get_data()
    try:
        stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"), secret)
    except stripe.SignatureVerificationError as error:
        log.warning(
            "Stripe webhook refused, invalid signature (from %s): %s",
            request.remote_addr, error.user_message,
        )
        return error_response(
            400, "invalid_signature", "the Stripe-Signature header does not match the body"
        )
    except ValueError:  # signed, but not JSON or not UTF-8
        log.warning("Stripe webhook refused: the body is not JSON")
        return error_response(400, "malformed_json", "the body is not valid JSON")
    event = json.loads(payload)
    try:
        # A wallet's top-up or a gift voucher names its purpose; a shop's
        # prepayment names its shop.
        paid = vouchers.handle_event(db(), event, utcnow())
        if paid is not None:
            return _voucher_answer(event, paid)
        outcome = funding.handle_event(db(), event)
    except InvalidInput as error:
        # A paid session we cannot credit: answer with an error so that Stripe
        # shows the delivery as failed and keeps retrying while someone looks.
        log.error("Stripe event %s not credited: %s", event.get("id"), error.message)
        return error_response(422, error.code, error.message)
    if outcome.credited and outcome.prepayment is not None:
        log.info(
            "Stripe event %s credited %d cents to shop %d",
            event.get("id"), outcome.prepayment.amount_cents, outcome.prepayment.merchant_id,
        )
    return jsonify({"received": True, "credited": outcome.credited, "result": outcome.reason})


def _voucher_answer(event: dict[str, Any], paid: vouchers.Paid) -> Any:
    if paid.credited:
        log.info("Stripe event %s paid a %s of %d cents", event.get("id"), paid.purpose,
                 paid.amount_cents)
        if paid.voucher is not None and paid.voucher.recipient_email:
            # Committed first: a mail about a code that a rollback took back would lie.
            db().commit()
            voucher_mail.send_gift(
                paid.voucher, (event.get("data") or {}).get("object", {}).get("locale") or "nl"
            )
    reason = "credited" if paid.credited else ("not paid yet" if not paid.amount_cents
                                                else "already credited")
    return jsonify({"received": True, "credited": paid.credited, "result": reason})
