"""A shop applies to join; the municipality approves it in its dashboard."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, redirect, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from loyalty.access import staff
from loyalty.errors import LoyaltyError
from loyalty.infra import mail
from loyalty.models import Merchant, Scheme
from loyalty.shops import onboarding
from loyalty.town import sectors
from loyalty.web import db, public_url
from merchant_portal.common import bp, render
from merchant_portal.forms import ApplyForm


def _choices(form: ApplyForm) -> None:
    session = db()
    lang = str(get_locale())
    form.scheme.choices = [
        (s.slug, s.name) for s in session.scalars(sa.select(Scheme).order_by(Scheme.name))
    ]
    used = session.scalars(sa.select(Merchant.sector).distinct()).all()
    form.sector.choices = sorted(
        ((code, sectors.label(code, lang)) for code in set(used) | set(onboarding.COMMON_SECTORS)),
        key=lambda item: item[1],
    )


@bp.route("/apply", methods=["GET", "POST"])
def apply() -> Any:
    """Open to everyone: no sign-in, the application waits for the municipality."""
    form = ApplyForm()
    _choices(form)
    if not form.validate_on_submit():
        return render("apply.html", 422 if form.is_submitted() else 200, form=form)
    try:
        merchant = onboarding.apply(
            db(),
            scheme_slug=form.scheme.data or "",
            name=form.name.data or "",
            sector=form.sector.data or "",
            postcode=form.postcode.data or "",
            address=form.address.data or "",
            email=form.email.data or "",
            password=form.password.data or "",
        )
    except LoyaltyError as error:
        target = form.email if error.code == "invalid_email" else form.name
        target.errors = [error.message]
        return render("apply.html", 422, form=form)
    if merchant is None:
        # The address has a login: the same answer as for a new one (the form
        # must not tell who has a login), and word to its holder only.
        _tell_the_login_holder(form.email.data or "")
    return redirect(url_for("portal.applied"), 303)


def _tell_the_login_holder(email: str) -> None:
    mail.send(
        current_app.config,
        staff.normalise_email(email),
        _("Someone applied for a shop with your e-mail address"),
        _(
            "Hello,\n\nSomeone applied on Lokaal Sparen to add a shop with this e-mail "
            "address. It already has a login, so nothing was created.\n\nWas it you? Sign "
            "in with your login:\n\n%(link)s\n\nForgot your password? Ask for a new one "
            "there. Was it not you? Then ignore this message.\n\nLokaal Sparen",
            link=public_url(url_for("signin.login")),
        ),
    )


@bp.get("/apply/sent")
def applied() -> Any:
    return render("applied.html")
