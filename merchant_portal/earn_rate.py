"""The owner's own earn rate: more points per euro than the scheme, within its maximum."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _

from loyalty.errors import InvalidInput
from loyalty.shops import earn_rate
from loyalty.web import db
from loyalty.web.signin import current_staff, staff_required
from merchant_portal.common import OWNER, bp, current_merchant, render
from merchant_portal.owner_forms import EarnRateForm


@bp.route("/earn-rate", methods=["GET", "POST"])
@staff_required(*OWNER)
def earn_rate_page() -> Any:
    """Choose the shop's points per euro; the next sale gives them, earlier codes keep theirs."""
    merchant = current_merchant()
    limits = earn_rate.bounds(db(), merchant)
    form = EarnRateForm()
    if not form.is_submitted():
        form = EarnRateForm(formdata=None, data={"rate": limits.current})
    elif form.validate_on_submit():
        try:
            changed = earn_rate.set_earn_rate(
                db(), merchant, current_staff().user, form.rate.data or 0
            )
        except InvalidInput:
            form.rate.errors = [
                _("Between %(min)d and %(max)d.", min=limits.lowest, max=limits.highest)
            ]
        else:
            done = "saved" if changed else "unchanged"
            return redirect(url_for("portal.earn_rate_page", done=done), 303)
    return render(
        "owner_earn_rate.html",
        422 if form.is_submitted() else 200,
        form=form,
        limits=limits,
        done=request.args.get("done"),
    )
