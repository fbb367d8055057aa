"""Buying town money: a wallet's top-up by Stripe Checkout, and redeeming a voucher code."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from loyalty.api.auth import require_wallet
from loyalty.api.common import AUTH
from loyalty.api.idempotency import idempotent
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Scheme
from loyalty.money import vouchers
from loyalty.money.settlement.payouts import stripe_settings
from loyalty.shoppers import wallets
from loyalty.web import db, public_url

blp = Blueprint("vouchers", __name__, description="Buying euros for the wallet (town money)")


class TopUpCreate(Schema):
    amount_cents = fields.Integer(
        required=True, strict=True, validate=validate.Range(1, 100_000),
        metadata={"description": "one of the scheme's voucher amounts, in euro cents"},
    )


class TopUpCreated(Schema):
    checkout_url = fields.String(
        required=True, metadata={"description": "Stripe Checkout's page, to pay on"}
    )


class VoucherRedeem(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=200))


class VoucherRedeemed(Schema):
    euro_cents_credited = fields.Integer(required=True)
    euro_cents = fields.Integer(required=True, metadata={"description": "the new euro balance"})


class StripeUnavailable(LoyaltyError):
    """Stripe did not answer: nothing was charged, the shopper may try again later."""

    status = 503
    code = "payments_unavailable"


class PaymentsNotOffered(LoyaltyError):
    """This installation takes no card payments (no Stripe keys): a 4xx, since asking
    again will not help."""

    status = 409
    code = "payments_not_offered"


@blp.route("/wallet/top-ups")
class TopUps(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.arguments(TopUpCreate())
    @blp.response(201, TopUpCreated)
    @blp.alt_response(422, description="not one of the scheme's voucher amounts")
    @blp.alt_response(409, description="this installation takes no card payments")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """A Stripe Checkout page paying euros into the calling wallet; Stripe's
        webhook credits them once, when the payment succeeds."""
        import stripe

        wallet = require_wallet()
        wallets.ensure_usable(wallet)
        settings = stripe_settings(current_app.config)
        if settings is None:
            raise PaymentsNotOffered("paying by card is not offered here")
        scheme = db().get_one(Scheme, wallet.scheme_id)
        try:
            checkout = vouchers.create_checkout(
                settings, scheme, body["amount_cents"], purpose=vouchers.TOP_UP,
                wallet_id=wallet.id,
                # Stripe fills in {CHECKOUT_SESSION_ID}; url_for would escape the braces.
                success_url=public_url("/vouchers/paid?session_id={CHECKOUT_SESSION_ID}"),
                cancel_url=public_url("/vouchers/buy"),
                locale=str(get_locale()),
                product_name=_("Credit in your wallet of %(scheme)s", scheme=scheme.name),
            )
        except stripe.StripeError:
            current_app.logger.exception("creating a Stripe Checkout Session failed")
            raise StripeUnavailable("Stripe could not be reached; nothing was charged") from None
        return {"checkout_url": checkout.url}


@blp.route("/wallet/vouchers")
class VoucherRedemptions(MethodView):
    @blp.doc(security=AUTH)
    @blp.arguments(VoucherRedeem())
    @blp.response(200, VoucherRedeemed)
    @blp.alt_response(404, description="no voucher with this code in the wallet's town")
    @blp.alt_response(409, description="the code was redeemed already")
    @blp.alt_response(410, description="the voucher has expired")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Put a gift voucher's euros in the calling wallet; a code is redeemed once."""
        wallet = require_wallet()
        done = vouchers.redeem(db(), body["code"], wallet, utcnow())
        return {"euro_cents_credited": done.credit.amount_cents, "euro_cents": done.euro_cents}
