"""The social tariff on the shopper's side: entering the social service's code.

Only the shopper's own page says the wallet is entitled; nothing else is asked
(no name, no reason) and no shop ever sees it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, redirect, request, url_for
from flask_babel import gettext as _

from consumer_web.common import bp, page, wallet_or_home
from consumer_web.forms import CodeForm
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Scheme
from loyalty.money import social
from loyalty.web import db
from loyalty.web.i18n import long_day


def _page(form: CodeForm, status: int = 200) -> Response:
    wallet = wallet_or_home()
    session = db()
    scheme = session.get_one(Scheme, wallet.scheme_id)
    today = utcnow().astimezone(ZoneInfo(scheme.timezone)).date()
    until = social.entitled_until(session, wallet.id, today)
    return page("social.html", status, form=form, scheme=scheme,
                until=long_day(until) if until else None, done=request.args.get("done"))


@bp.get("/social-tariff")
def social_page() -> Response:
    return _page(CodeForm())


@bp.post("/social-tariff")
def social_enter() -> Response:
    wallet = wallet_or_home()
    form = CodeForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    session = db()
    scheme = session.get_one(Scheme, wallet.scheme_id)
    now = utcnow()
    try:
        social.enter_code(session, wallet, form.code.data or "",
                          now.astimezone(ZoneInfo(scheme.timezone)).date(), now)
    except LoyaltyError as error:
        form.code.errors = [{
            "invalid_code": _("This is not a code of the social service. Check the letters "
                              "and digits."),
            "code_used": _("This code was already used. Each code can be used once."),
            "code_expired": _("This code's date has passed. Ask the social service for a "
                              "new one."),
        }.get(error.code or "", _("Your wallet is frozen. Please contact the municipality."))]
        return _page(form, error.status)
    return redirect(url_for("consumer.social_page", done="1"), 303)  # type: ignore[return-value]
