"""Correcting a sale (shop owner): the recent collected sales, and taking one back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, redirect, url_for
from flask_babel import gettext as _

from loyalty.earning import corrections
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Claim, ClaimStatus, SaleCorrection, Scheme
from loyalty.web import db
from loyalty.web.signin import current_staff, staff_required
from merchant_portal.common import OWNER, bp, current_merchant, render
from merchant_portal.forms import CorrectionForm
from merchant_portal.till import own_claim

MAX_LISTED = 200


@bp.get("/sales", endpoint="corrections")
@staff_required(*OWNER)
def sales_to_correct() -> Any:
    """The collected sales an owner may still correct, newest first."""
    merchant = current_merchant()
    scheme = db().get_one(Scheme, merchant.scheme_id)
    since = utcnow() - timedelta(days=scheme.correction_days)
    rows = db().execute(
        sa.select(Claim, SaleCorrection)
        .outerjoin(SaleCorrection, SaleCorrection.claim_id == Claim.id)
        .where(Claim.merchant_id == merchant.id, Claim.status == ClaimStatus.CLAIMED,
               Claim.claimed_at >= since)
        .order_by(Claim.claimed_at.desc(), Claim.id.desc())
        .limit(MAX_LISTED)
    ).all()
    return render("sales.html", rows=rows, days=scheme.correction_days)


def _error(code: str) -> str:
    return {
        "reason_required": _("Say why the sale is corrected."),
        "reason_too_long": _("Keep the reason under 200 characters."),
        "already_corrected": _("This sale is already corrected."),
        "correction_window_over": _("This sale is too old to be corrected."),
        "no_points": _("This sale gave no points: there is nothing to take back."),
        "not_collected": _("Only a sale whose points were collected can be corrected."),
    }.get(code, _("This sale cannot be corrected."))


@bp.route("/sales/<int:claim_id>/correct", methods=["GET", "POST"])
@staff_required(*OWNER)
def correct_sale(claim_id: int) -> Any:
    """Ask for the reason and a confirmation, then take the sale's points back."""
    claim = own_claim(claim_id)
    form = CorrectionForm()
    check = corrections.correctable(db(), claim, utcnow())
    if form.validate_on_submit():
        try:
            corrections.correct_sale(db(), claim, current_merchant(), current_staff().user,
                                     form.reason.data or "", utcnow())
        except LoyaltyError as error:
            form.reason.errors = [_error(error.code)]
        else:
            return redirect(url_for("portal.sale", claim_id=claim.id, done="corrected"), 303)
    elif form.is_submitted() and not form.errors.get("reason"):
        abort(400)  # no CSRF token
    status = 422 if form.is_submitted() else 200
    return render("correct_sale.html", status, form=form, claim=claim, check=check,
                  problem=None if check.allowed else _error(check.reason or ""))
