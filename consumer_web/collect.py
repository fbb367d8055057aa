"""Collecting points: the page a receipt's QR code opens, and the collect button."""

from __future__ import annotations

from flask import (
    Response,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consumer_web import cookie
from consumer_web.common import bp, page, problem, town_wallet
from consumer_web.forms import (
    ActionForm,
)
from loyalty.earning import claims, offline
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Merchant, Scheme, StampCard
from loyalty.shoppers.wallet_view import wallet_summary
from loyalty.web import db

CLAIM_PROBLEMS = {
    "claimed": (
        _l("Already collected"),
        _l("These points were already collected. Each code can be used once."),
        409,
    ),
    "cancelled": (
        _l("Purchase cancelled"),
        _l("The shop cancelled this sale, so it earns no points."),
        409,
    ),
    "expired": (
        _l("This code has expired"),
        _l("Codes are valid for a short time. Ask the cashier for a new one."),
        410,
    ),
}


def _claim_problem(status: str) -> Response:
    title, text, code = CLAIM_PROBLEMS[status]
    return problem(str(title), str(text), code)


def _unknown_claim(token: str) -> Response:
    if offline.waiting(db(), token, utcnow()) is not None:
        # The till showed a code from its reserve while offline: the sale
        # becomes collectable when the till sends it. Nothing is kept of this
        # visit; the shopper opens the link again.
        return problem(
            _("Not sent yet"),
            _("The shop's till was offline and has not sent this sale yet. "
              "Open this link again later to collect your points."),
            200,
        )
    return problem(
        _("Code not found"),
        _("We do not know this code. Scan the QR code at the till again."),
        404,
    )


@bp.get("/c/<token>")
def claim_page(token: str) -> Response:
    """What the phone's camera opens. A GET never claims: link previews claim nothing."""
    session = db()
    try:
        claim = claims.get_claim(session, token)
    except LoyaltyError:
        return _unknown_claim(token)
    status = claims.display_status(claim, utcnow())
    if status != "open":
        return _claim_problem(status)
    merchant = session.get_one(Merchant, claim.merchant_id)
    card = session.get(StampCard, claim.stamp_card_id) if claim.stamp_card_id else None
    return page(
        "claim.html",
        claim=claim,
        merchant=merchant,
        card=card,
        wallet=cookie.wallet_for_scheme(claim.scheme_id),
        other_town=cookie.current_wallet() is not None,
        town=session.get_one(Scheme, claim.scheme_id).name,
        form=ActionForm(),
    )


@bp.post("/c/<token>")
def claim_collect(token: str) -> Response:
    """Collect the points with one tap; the first visit also creates the wallet."""
    form = ActionForm()
    if not form.validate_on_submit():
        return problem(_("Please try again"), _("The page was open too long."), 400)
    session = db()
    try:
        claim = claims.get_claim(session, token)
    except LoyaltyError:
        return _unknown_claim(token)
    # The phone's wallet of this town; a first purchase in another town makes
    # one more, linked to the phone's others so that one recovery opens all.
    wallet, new_wallet = town_wallet(session, claim.scheme_id)
    try:
        result = claims.claim_points(session, token, wallet, utcnow())
    except LoyaltyError as error:
        status = claims.display_status(claim, utcnow())
        if error.code == "merchant_not_approved":  # suspended since the sale
            return problem(
                _("This is not possible right now."),
                _("This shop can no longer give points. Please contact the municipality."),
                error.status,
            )
        if status not in CLAIM_PROBLEMS:  # the claim is still open; the wallet is frozen
            return problem(
                _("This is not possible right now."),
                _("Your wallet is frozen. Please contact the municipality."),
                error.status,
            )
        return _claim_problem(status)
    summary = wallet_summary(session, wallet)
    card = session.get(StampCard, claim.stamp_card_id) if claim.stamp_card_id else None
    progress = next(
        (c for c in summary["stamp_cards"] if card and c["card_id"] == card.id), None
    )
    response = page(
        "claimed.html",
        result=result,
        summary=summary,
        card=card,
        card_progress=progress,
        recovery_code=new_wallet.recovery_code if new_wallet else None,
        linked=wallet.group_id is not None,
    )
    if new_wallet is not None:
        cookie.remember(response, wallet.scheme_id, new_wallet.token)
    else:  # the wallet page now shows the town the shopper just collected in
        cookie.choose(response, wallet.scheme_id)
    return response
