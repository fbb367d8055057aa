"""Earning: a till creates a claim; a wallet collects it."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_babel import gettext, ngettext
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.api.auth import require_till, require_till_key, require_token_holder
from loyalty.api.common import AUTH, svg_response
from loyalty.api.idempotency import idempotent
from loyalty.api.schemas import ClaimCreate, ClaimCreated, ClaimDone, ClaimStatusView
from loyalty.earning import claims
from loyalty.errors import NotFound
from loyalty.infra import qr, receipts
from loyalty.infra.db import utcnow
from loyalty.models import Claim, Merchant
from loyalty.web import db, public_url

blp = Blueprint("claims", __name__, description="Earning points on a sale")


def _own_claim(token: str) -> Claim:
    _key, merchant = require_till()
    claim = claims.get_claim(db(), token)
    if claim.merchant_id != merchant.id:
        # Another shop's claim is none of this till's business: do not confirm it exists.
        raise NotFound("no such claim", code="unknown_claim")
    return claim


def create_sale_claim(
    session: Session, till: staff.Till, body: dict[str, Any]
) -> dict[str, Any]:
    """The claim of a sale, from ClaimCreate's data; ClaimCreated's answer."""
    new = claims.create_claim(
        session,
        till.terms,
        body["amount_cents"],
        utcnow(),
        till_key_id=till.key_id,
        ttl_seconds=body.get("ttl_seconds"),
        stamps=body["stamps"],
        stamp_card_id=body.get("stamp_card_id"),
    )
    return {
        "token": new.token,
        "url": public_url(f"/c/{new.token}"),
        "qr_svg_url": public_url(f"/api/v1/claims/{new.token}/qr.svg"),
        "points": new.points,
        "stamps": new.stamps,
        "amount_cents": new.amount_cents,
        "expires_at": new.expires_at,
    }


def collected_answer(result: claims.ClaimResult) -> dict[str, Any]:
    """The answer to a collected claim (ClaimDone)."""
    return {
        "points_credited": result.points_credited,
        "balance": result.balance,
        "merchant": result.merchant.name,
        "stamps_credited": result.stamps_credited,
        "vouchers_created": len(result.vouchers),
    }


def _status(claim: Claim) -> dict[str, Any]:
    return {
        "status": claims.display_status(claim, utcnow()),
        "points": claim.points,
        "amount_cents": claim.amount_cents,
        "expires_at": claim.expires_at,
        "claimed_at": claim.claimed_at,
    }


@blp.route("/claims")
class ClaimsView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.arguments(ClaimCreate())
    @blp.response(201, ClaimCreated)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """A single-use claim for a sale; show its QR code to the shopper."""
        return create_sale_claim(db(), require_till_key(), body)


@blp.route("/claims/<token>")
class ClaimView(MethodView):
    @blp.response(200, ClaimStatusView)
    @blp.doc(security=AUTH)
    def get(self, token: str) -> dict[str, Any]:
        """The status of one of this shop's claims (the till polls it)."""
        return _status(_own_claim(token))


@blp.route("/claims/<token>/claim")
class CollectView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.response(200, ClaimDone)
    @blp.alt_response(409, description="already collected or cancelled")
    @blp.alt_response(410, description="expired")
    def post(self, token: str) -> dict[str, Any]:
        """Collect a claim's points into the calling wallet, exactly once."""
        result = claims.claim_points(db(), token, require_token_holder(), utcnow())
        return collected_answer(result)


@blp.route("/claims/<token>/cancel")
class CancelView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.response(200, ClaimStatusView)
    def post(self, token: str) -> dict[str, Any]:
        """The till withdraws an open claim (the sale was cancelled)."""
        claim = _own_claim(token)
        claims.cancel_claim(db(), claim, utcnow())
        return _status(claim)


@blp.route("/claims/<token>/receipt.escpos")
class ClaimReceiptView(MethodView):
    @blp.doc(security=AUTH)
    @blp.response(200, content_type="application/octet-stream")
    def get(self, token: str) -> Any:
        """The claim's QR code with the points, as ESC/POS bytes for a receipt printer.

        Send them to the printer as they are (USB, or TCP port 9100). The text is in
        the till's language (``Accept-Language`` or ``?lang=``), Dutch by default.
        """
        claim = _own_claim(token)
        body = receipts.claim_receipt(
            db().get_one(Merchant, claim.merchant_id).name,
            [ngettext("%(num)d point", "%(num)d points", claim.points),
             gettext("Scan with your phone's camera to save them.")],
            public_url(f"/c/{token}"),
        )
        response = current_app.response_class(body, mimetype="application/octet-stream")
        response.headers["Content-Disposition"] = 'attachment; filename="receipt.escpos"'
        return response


@blp.route("/claims/<token>/qr.svg")
class ClaimQrView(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    def get(self, token: str) -> Any:
        """The QR code of the claim's URL, as SVG (for the till's screen)."""
        claims.get_claim(db(), token)  # 404 for unknown tokens
        return svg_response(qr.qr_svg(public_url(f"/c/{token}"), title="QR code"))
