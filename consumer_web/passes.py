"""The wallet as a card in the phone's wallet app: Apple Wallet and Google Wallet."""

from __future__ import annotations

from flask import Response, abort, redirect

from consumer_web.common import bp, wallet_or_home
from loyalty.shoppers import wallet_passes
from loyalty.web import db, writes
from loyalty.web.wallet_passes import apple_signer, google_issuer, google_save_url, pkpass_response


@bp.get("/wallet/pass.pkpass")
@writes  # the pass's serial (and the card number) are made on the first download
def apple_pass() -> Response:
    """The signed pass; the Wallet app opens it from the download."""
    wallet = wallet_or_home()
    signer = apple_signer()
    if signer is None:
        abort(404)
    session = db()
    return pkpass_response(session, wallet_passes.pass_of_wallet(session, wallet), signer)


@bp.get("/wallet/google-wallet")
@writes  # as above: the serial is the loyalty object's id
def google_pass() -> Response:
    """On to Google's "save" page, with the signed loyalty object in its address."""
    wallet = wallet_or_home()
    issuer = google_issuer()
    if issuer is None:
        abort(404)
    session = db()
    shown = wallet_passes.content(session, wallet_passes.pass_of_wallet(session, wallet))
    response = redirect(google_save_url(shown, issuer), 303)
    response.headers["Cache-Control"] = "no-store"
    return response  # type: ignore[return-value]
