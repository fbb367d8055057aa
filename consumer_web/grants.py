"""Claiming a grant of the municipality: the page its link opens, and the claim button."""

from __future__ import annotations

from flask import Response, url_for
from flask_babel import gettext as _

from consumer_web import cookie
from consumer_web.common import bp, page, problem, town_wallet
from consumer_web.forms import GrantForm
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Grant, GrantWho, Wallet
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
    wallet = cookie.wallet_for_scheme(grant.scheme_id)
    return page("grant.html", grant=grant, wallet=wallet, form=GrantForm(),
                resident=_resident(grant, wallet), account_url=url_for("consumer.account_page"))


def _resident(grant: Grant, wallet: Wallet | None) -> bool:
    """Whether the wallet may claim a grant for villages (any wallet for other grants)."""
    if grant.who != GrantWho.VILLAGES:
        return True
    return wallet is not None and wallet.home_village in (grant.villages or [])


def _refused(grant: Grant, error: LoyaltyError) -> Response:
    if error.code == "code_required":
        return problem(_("A code is needed"),
                       _("This grant is for holders of a code from the municipality. "
                         "Type the code from your letter."), 403)
    if error.code == "invalid_code":
        return problem(_("Wrong code"),
                       _("This is not a code of this grant. Check the letters and digits."),
                       403)
    if error.code == "code_used":
        return problem(_("Code already used"),
                       _("This code was already used. Each code can be used once."), 409)
    return problem(
        _("Only for residents"),
        _("This grant is for residents of %(villages)s. Choose your village on your "
          "account page, then claim it.", villages=", ".join(grant.villages or [])),
        403,
    )


@bp.post("/g/<int:grant_id>")
def grant_claim(grant_id: int) -> Response:
    """Claim with one tap; the first visit also creates the wallet."""
    form = GrantForm()
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
        claimed = grants.claim(session, grant, wallet, utcnow(), code=form.code.data or None)
    except LoyaltyError as error:
        if error.code in {"code_required", "invalid_code", "code_used", "not_resident"}:
            return _refused(grant, error)
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
