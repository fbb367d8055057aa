"""Spending: a till looks up and confirms a shopper's code."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from loyalty.api.auth import require_till
from loyalty.api.common import AUTH, svg_response
from loyalty.api.idempotency import idempotent
from loyalty.api.schemas import RedemptionConfirmed, RedemptionView
from loyalty.api.wallets import redemption_view, voucher_reward
from loyalty.errors import NotFound
from loyalty.infra import qr
from loyalty.infra.db import utcnow
from loyalty.spending import redemptions
from loyalty.web import counting_code_misses, db

blp = Blueprint("redemptions", __name__, description="Spending points at a till")


@blp.route("/redemptions/<code>")
class RedemptionView_(MethodView):
    @blp.response(200, RedemptionView)
    @blp.alt_response(429, description="too many unknown codes from this till or shop")
    @blp.doc(security=AUTH)
    def get(self, code: str) -> dict[str, Any]:
        """What a code is worth, before the cashier confirms it."""
        key, merchant = require_till()
        with counting_code_misses(merchant.id, key.id):
            redemption = redemptions.lookup_at_till(
                db(), code, merchant, utcnow(), till_key_id=key.id
            )
        return redemption_view(redemption)


@blp.route("/redemptions/<code>/confirm")
class ConfirmView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.response(200, RedemptionConfirmed)
    @blp.alt_response(409, description="already used or cancelled")
    @blp.alt_response(410, description="expired")
    @blp.alt_response(429, description="too many unknown codes from this till or shop")
    def post(self, code: str) -> dict[str, Any]:
        """Accept a code at this shop: give the discount; the points become the shop's."""
        key, merchant = require_till()
        with counting_code_misses(merchant.id, key.id):
            redemption = redemptions.confirm_redemption(
                db(), code, merchant, utcnow(), till_key_id=key.id
            )
        return {
            "points": redemption.points,
            "euro_cents": redemption.euro_cents,
            "discount_cents": redemption.discount_cents,
            "voucher": voucher_reward(redemption.voucher_id),
        }


@blp.route("/redemptions/<code>/qr.svg")
class RedemptionQrView(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    def get(self, code: str) -> Any:
        """The QR code of a spend code, as SVG (the wallet page shows it)."""
        digits = redemptions.normalise_code(code)
        if len(digits) != redemptions.CODE_DIGITS:
            raise NotFound("no such spend code", code="unknown_code")
        return svg_response(qr.qr_svg(digits, title="QR code"))
