"""A shop applies to join; the municipality approves it in its dashboard."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import redirect, url_for
from flask_babel import get_locale

from loyalty import onboarding, sectors
from loyalty.errors import LoyaltyError
from loyalty.models import Merchant, Scheme
from loyalty.web import db
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
        onboarding.apply(
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
        target = form.email if error.code in ("email_taken", "invalid_email") else form.name
        target.errors = [error.message]
        return render("apply.html", 422, form=form)
    return redirect(url_for("portal.applied"), 303)


@bp.get("/apply/sent")
def applied() -> Any:
    return render("applied.html")
