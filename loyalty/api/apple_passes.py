"""The Apple pass web service: devices register for a wallet pass and fetch it
again when it changed (Apple's "Wallet Passes" web service protocol).

Not part of the documented API: the Wallet app calls it, with neither session
nor bearer token. A pass's own calls authenticate with the header
``Authorization: ApplePass <authenticationToken>``, the token in its pass.json.
Push notifications to APNs are not sent yet: the push tokens are kept, and a
device picks up a new balance when it refreshes the pass (pull to refresh, or
the Wallet app's own periodic check through the updates list).
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from loyalty.api import error_response
from loyalty.errors import NotFound
from loyalty.models import WalletPass
from loyalty.shoppers import wallet_passes
from loyalty.shoppers.wallet_passes import AppleSigner
from loyalty.web import db
from loyalty.web.wallet_passes import WEB_SERVICE_PATH, apple_signer, pkpass_response

bp = Blueprint("apple_passes", __name__, url_prefix=WEB_SERVICE_PATH)
log = logging.getLogger(__name__)
REGISTRATION = "/v1/devices/<device>/registrations/<pass_type>/<serial>"
LONGEST_ID = 100  # device library ids are ~32 characters; the column takes 100


def _signer(pass_type: str) -> AppleSigner:
    """Raises NotFound unless passes of this type are made here."""
    signer = apple_signer()
    if signer is None or pass_type != signer.pass_type_id:
        raise NotFound("no such pass type here")
    return signer


def _pass(serial: str) -> WalletPass:
    """Raises NotFound for an unknown serial or a deleted wallet's pass."""
    found = wallet_passes.pass_by_serial(db(), serial)
    if found is None:
        raise NotFound("no such pass")
    return found


def _authorised(serial: str) -> None:
    """Raises Unauthorized (401) unless the request carries this pass's token."""
    wallet_passes.check_token(
        current_app.config["SECRET_KEY"], serial, request.headers.get("Authorization")
    )


@bp.post(REGISTRATION)
def register(device: str, pass_type: str, serial: str) -> Any:
    _signer(pass_type)
    _authorised(serial)
    found = _pass(serial)
    body = request.get_json(silent=True)
    push_token = body.get("pushToken") if isinstance(body, dict) else None
    if not isinstance(push_token, str) or not push_token or len(push_token) > 200:
        return error_response(400, "invalid_input", "pushToken is required")
    if len(device) > LONGEST_ID:
        return error_response(400, "invalid_input", "device library id too long")
    created = wallet_passes.register_device(db(), found, device, push_token)
    return ("", 201) if created else ("", 200)


@bp.delete(REGISTRATION)
def unregister(device: str, pass_type: str, serial: str) -> Any:
    _signer(pass_type)
    _authorised(serial)
    found = _pass(serial)
    wallet_passes.unregister_device(db(), found, device)
    return "", 200


@bp.get("/v1/devices/<device>/registrations/<pass_type>")
def updated_passes(device: str, pass_type: str) -> Any:
    """The device's passes changed since its last look (passesUpdatedSince)."""
    _signer(pass_type)
    serials, last = wallet_passes.updated_serials(
        db(), device, request.args.get("passesUpdatedSince")
    )
    if not serials:
        return "", 204
    return jsonify({"serialNumbers": serials, "lastUpdated": last})


@bp.get("/v1/passes/<pass_type>/<serial>")
def latest_pass(pass_type: str, serial: str) -> Any:
    """The pass as it is now; 304 when it did not change since If-Modified-Since."""
    signer = _signer(pass_type)
    _authorised(serial)
    session = db()
    found = _pass(serial)
    since = request.if_modified_since
    changed = wallet_passes.updated_at(session, found.wallet_id)
    # HTTP dates have whole seconds: compare in whole seconds.
    if since is not None and changed.replace(microsecond=0) <= since.astimezone(UTC):
        return "", 304
    return pkpass_response(session, found, signer)


@bp.post("/v1/log")
def device_log() -> Any:
    """Devices report what went wrong with a pass (bad signature, bad answer)."""
    body = request.get_json(silent=True)
    logs = body.get("logs") if isinstance(body, dict) else None
    for line in (logs if isinstance(logs, list) else [])[:20]:
        log.warning("Apple Wallet device: %s", str(line)[:500])
    return "", 200
