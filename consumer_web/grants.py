"""Claiming a grant of the municipality: the page its link opens, and the claim button."""

from __future__ import annotations

from flask import Response
from flask_babel import gettext as _

from consumer_web import cookie
from consumer_web.common import bp, page, problem, town_wallet
from consumer_web.forms import ActionForm
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Grant
from loyalty.money import euros, grants
from loyalty.web import db
from loyalty.web.i18n import long_date


def _grant(grant_id: int) -> Grant | None:
    return db().get(Grant, grant_id)


def _unknown() -> Response:
    return problem(_("Grant not found"), _("We do not know this link. Check it and try again."),
                   404)


def _closed(grant: Grant) -> Response | None:
    now = utcnow()
    if now < grant.starts_at:
        return problem(_("Not yet"), _("This grant can be claimed from %(date)s.",
                                       date=long_date(grant.starts_at)), 410)
    if now >= grant.ends_at:
        return problem(_("This grant has ended"),
                       _("The period to claim this grant is over."), 410)
    return None


@bp.get("/g/<int:grant_id>")
def grant_page(grant_id: int) -> Response:
    """What the grant's link opens. A GET never claims: link previews claim nothing."""
    grant = _grant(grant_id)
    if grant is None:
        return _unknown()
    if (closed := _closed(grant)) is not None:
        return closed
    return page("grant.html", grant=grant, wallet=cookie.wallet_for_scheme(grant.scheme_id),
                form=ActionForm())


@bp.post("/g/<int:grant_id>")
def grant_claim(grant_id: int) -> Response:
    """Claim with one tap; the first visit also creates the wallet."""
    form = ActionForm()
    if not form.validate_on_submit():
        return problem(_("Please try again"), _("The page was open too long."), 400)
    session = db()
    grant = _grant(grant_id)
    if grant is None:
        return _unknown()
    if (closed := _closed(grant)) is not None:
        return closed
    # The phone's wallet of the grant's town; a first one there is made, and linked
    # to the phone's others (as a first purchase in another town does).
    wallet, new_wallet = town_wallet(session, grant.scheme_id)
    try:
        claimed = grants.claim(session, grant, wallet, utcnow())
    except LoyaltyError as error:
        if error.code == "already_claimed":
            return problem(
                _("Already claimed"),
                _("This wallet already received this grant. Each wallet can claim it once."),
                409,
            )
        if error.code == "budget_spent":
            return problem(
                _("No more budget"),
                _("This grant's budget is used up. "
                  "Watch the municipality's news for the next one."),
                409,
            )
        return problem(_("This is not possible right now."),
                       _("Your wallet is frozen. Please contact the municipality."), error.status)
    response = page(
        "grant_claimed.html",
        grant=grant,
        claimed=claimed,
        euro_cents=euros.balance(session, wallet),
        recovery_code=new_wallet.recovery_code if new_wallet else None,
    )
    if new_wallet is not None:
        cookie.remember(response, wallet.scheme_id, new_wallet.token)
    return response
