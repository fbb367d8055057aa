"""The till: a sale becomes a QR code the shopper scans; the sale's page follows it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import (
    abort,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from loyalty.earning import claims, corrections, stamps
from loyalty.errors import LoyaltyError
from loyalty.infra import qr
from loyalty.infra.db import utcnow
from loyalty.models import Claim, Merchant, Role, SaleCorrection, Scheme, StampCard
from loyalty.web import db, public_url
from loyalty.web.signin import current_staff, staff_required
from merchant_portal.common import SHOP_STAFF, bp, current_merchant, render
from merchant_portal.forms import ActionForm, CardPointsForm, SaleForm

RECENT_SALES = 10
# Claim tokens are stored only hashed, so the till keeps the few it still
# needs to show in its own signed session cookie.
KEPT_TOKENS = 5


def _sale_choices(merchant: Merchant) -> list[tuple[int, str]]:
    return [(card.id, card.name) for card in stamps.cards_of(db(), merchant.id)]


def _recent_sales(merchant: Merchant) -> list[dict[str, Any]]:
    now = utcnow()
    rows = db().scalars(
        sa.select(Claim)
        .where(Claim.merchant_id == merchant.id)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(RECENT_SALES)
    ).all()
    corrected = set(db().scalars(
        sa.select(SaleCorrection.claim_id).where(SaleCorrection.claim_id.in_([c.id for c in rows]))
    ))
    return [
        {
            "id": c.id,
            "at": c.created_at,
            "amount_cents": c.amount_cents,
            "points": c.points,
            "stamps": c.stamps,
            "status": "corrected" if c.id in corrected else claims.display_status(c, now),
        }
        for c in rows
    ]


@bp.get("/")
@staff_required(*SHOP_STAFF)
def index() -> Any:
    return redirect(url_for("portal.till"))


@bp.route("/till", methods=["GET", "POST"])
@staff_required(*SHOP_STAFF)
def till() -> Any:
    """Type the sale's amount and give points: the QR code follows."""
    merchant = current_merchant()
    form = SaleForm()
    form.stamp_card.choices = _sale_choices(merchant)
    confirm = None
    if form.validate_on_submit():
        cents = int((form.amount.data or Decimal(0)) * 100)
        stamp_count = form.stamps.data or 0
        threshold = db().get_one(Scheme, merchant.scheme_id).confirm_above_cents
        if cents > threshold and form.confirmed.data != str(cents):
            # A large amount is shown again before it gives points: "450000"
            # for 4.500,00 is the classic slip of a till. The confirmation
            # names the amount, so a changed amount asks again.
            return render("till.html", 200, form=form, merchant=merchant,
                          sales=_recent_sales(merchant), confirm=cents,
                          threshold=threshold)
        try:
            new = claims.create_claim(
                db(),
                merchant,
                cents,
                utcnow(),
                stamps=stamp_count,
                stamp_card_id=form.stamp_card.data if stamp_count else None,
            )
        except LoyaltyError as error:
            form.amount.errors = [_sale_error(error.code)]
        else:
            kept = dict(session.get("till_tokens", {}))
            kept[str(new.claim.id)] = new.token
            session["till_tokens"] = dict(list(kept.items())[-KEPT_TOKENS:])
            return redirect(url_for("portal.sale", claim_id=new.claim.id), 303)
    status = 422 if form.is_submitted() else 200
    return render(
        "till.html", status, form=form, merchant=merchant, sales=_recent_sales(merchant),
        confirm=confirm,
    )


def _sale_error(code: str) -> str:
    messages = {
        "no_points": _("A sale under € 1 gives no points. Add stamps, or type a larger amount."),
        "amount_out_of_range": _("Type the amount of the sale."),
        "merchant_not_approved": _("Your shop is not approved yet: it cannot give points."),
        "stamp_card_required": _("Choose a stamp card."),
    }
    return messages.get(code, _("This is not possible."))


def own_claim(claim_id: int) -> Claim:
    claim = db().get(Claim, claim_id)
    if claim is None or claim.merchant_id != current_staff().user.merchant_id:
        abort(404)
    return claim


@bp.get("/till/sales/<int:claim_id>")
@staff_required(*SHOP_STAFF)
def sale(claim_id: int, card_form: Any = None, http_status: int = 200) -> Any:
    """The QR code full-size; the page turns green when the shopper's phone claims."""
    claim = own_claim(claim_id)
    token = session.get("till_tokens", {}).get(str(claim_id))
    svg = None
    if token is not None:
        svg = qr.qr_svg(public_url(f"/c/{token}"), title=_("QR code to collect the points"))
    card = db().get(StampCard, claim.stamp_card_id) if claim.stamp_card_id else None
    owner = current_staff().user.role == Role.MERCHANT_OWNER
    return render(
        "sale.html",
        http_status,
        correction=corrections.correction_of(db(), claim.id),
        can_correct=owner and corrections.correctable(db(), claim, utcnow()).allowed,
        done=request.args.get("done"),
        card_form=card_form or CardPointsForm(formdata=None),
        claim=claim,
        status=claims.display_status(claim, utcnow()),
        qr_svg=svg,
        card=card,
        cancel=ActionForm(),
    )


@bp.get("/till/sales/<int:claim_id>/status")
@staff_required(*SHOP_STAFF)
def sale_status(claim_id: int) -> Any:
    claim = own_claim(claim_id)
    response = jsonify({"status": claims.display_status(claim, utcnow()), "points": claim.points})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/till/sales/<int:claim_id>/cancel")
@staff_required(*SHOP_STAFF)
def sale_cancel(claim_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    claim = own_claim(claim_id)
    try:
        claims.cancel_claim(db(), claim, utcnow())
    except LoyaltyError:
        return redirect(url_for("portal.sale", claim_id=claim_id), 303)
    return redirect(url_for("portal.till"), 303)


# -- redeeming -----------------------------------------------------------------
