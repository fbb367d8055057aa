"""The till page during an outage: its batch of codes, its queue of sales, its service worker.

The till page (static/till.js) keeps a batch of claim codes in the browser's
storage while online, shows the next one for a sale while offline, and sends
the queued sales here when the connection is back (loyalty.earning.offline).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request, send_from_directory
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from loyalty.earning import offline
from loyalty.errors import LoyaltyError
from loyalty.infra import qr
from loyalty.infra.db import utcnow
from loyalty.web import db, public_url
from loyalty.web.signin import staff_required
from merchant_portal.common import SHOP_STAFF, bp, current_merchant


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _bad(code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, 400)


@bp.get("/till-sw.js")
def till_service_worker() -> Response:
    """Served from /portal/ rather than /portal/static/ so that its scope covers the
    till page, which it keeps for loading while the shop is offline."""
    response = send_from_directory(bp.static_folder or "", "till-sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/till/offline/token")
@staff_required(*SHOP_STAFF)
def offline_token() -> Response:
    """A fresh CSRF token: the page may have been open (or loaded from the service
    worker's copy) for longer than its own token lives."""
    return _json({"csrf": generate_csrf()})


@bp.post("/till/offline/batch")
@staff_required(*SHOP_STAFF)
def offline_batch() -> Response:
    """Codes to bring the till's reserve up to a full batch, each with its QR code."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad("invalid_input", "a JSON object is expected")
    till = body.get("till") or offline.new_till_id()
    have = body.get("have", 0)
    if not isinstance(till, str) or not isinstance(have, int) or isinstance(have, bool):
        return _bad("invalid_input", "till must be a string and have a number")
    merchant = current_merchant()
    try:
        codes = offline.issue_batch(db(), merchant, till, have, utcnow())
    except LoyaltyError as error:
        return _json({"error": {"code": error.code, "message": str(error)}}, error.status)
    title = _("QR code to collect the points")
    return _json({
        "till": till,
        "codes": [
            {
                "token": code.token,
                "expires_at": code.expires_at.isoformat(),
                "qr_svg": qr.qr_svg(public_url(f"/c/{code.token}"), title=title),
            }
            for code in codes
        ],
    })


def _sale(item: Any) -> offline.OfflineSale | None:
    if not isinstance(item, dict):
        return None
    token, cents, sold = item.get("token"), item.get("amount_cents"), item.get("sold_at")
    if not (isinstance(token, str) and 0 < len(token) <= 100 and isinstance(cents, int)
            and not isinstance(cents, bool) and isinstance(sold, str)):
        return None
    try:
        sold_at = datetime.fromisoformat(sold)
    except ValueError:
        return None
    if sold_at.tzinfo is None:
        return None  # the till sends UTC with its "Z"; a bare time would be a guess
    return offline.OfflineSale(token, cents, sold_at.astimezone(UTC))


@bp.post("/till/offline/sales")
@staff_required(*SHOP_STAFF)
def offline_sales() -> Response:
    """Record the till's queued sales; sending the same queue again changes nothing."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("sales"), list):
        return _bad("invalid_input", "a JSON object with a list of sales is expected")
    till = body.get("till")
    sales = [_sale(item) for item in body["sales"]]
    if not isinstance(till, str) or any(s is None for s in sales):
        return _bad("invalid_input",
                    "each sale needs a token, amount_cents and sold_at (ISO 8601 with zone)")
    try:
        outcomes = offline.record_sales(
            db(), current_merchant(), till, [s for s in sales if s is not None], utcnow()
        )
    except LoyaltyError as error:
        return _json({"error": {"code": error.code, "message": str(error)}}, error.status)
    return _json({"results": [
        {"token": o.token, "status": o.status, "code": o.code, "claim_id": o.claim_id,
         "points": o.points}
        for o in outcomes
    ]})
