"""Redeeming at the till: the shopper's spend code is looked up and confirmed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, redirect, request, url_for
from flask_babel import gettext as _

from loyalty.errors import Conflict, LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import StampCard, Voucher
from loyalty.money import vouchers
from loyalty.spending import redemptions
from loyalty.web import confirm, counting_code_misses, db
from loyalty.web.i18n import euro
from loyalty.web.signin import current_staff, staff_required
from merchant_portal.common import NOT_APPROVED, SHOP_STAFF, bp, current_merchant, render
from merchant_portal.forms import ActionForm, CardSpendForm, CodeForm, GiftVoucherForm


@bp.route("/redeem", methods=["GET", "POST"])
@staff_required(*SHOP_STAFF)
def redeem(
    card_form: Any = None, http_status: int | None = None, voucher_form: Any = None,
    voucher_taken: int | None = None,
) -> Any:
    """Scan the shopper's code with the camera, or type it (a USB scanner types too)."""
    other = card_form is not None or voucher_form is not None or voucher_taken is not None
    form = CodeForm(formdata=None) if other else CodeForm()
    if not other and form.validate_on_submit():
        code = redemptions.normalise_code(form.code.data or "")
        return redirect(url_for("portal.redeem_code", code=code), 303)
    if http_status is None:
        http_status = 422 if form.is_submitted() else 200
    return render(
        "redeem.html",
        http_status,
        form=form,
        card_form=card_form or CardSpendForm(formdata=None),
        voucher_form=voucher_form or GiftVoucherForm(formdata=None),
        voucher_taken=voucher_taken,
    )


def _code_problem(code: str, error: LoyaltyError) -> Any:
    """The code form again, saying why this code cannot be looked up."""
    messages = {
        "too_many_unknown_codes": _(
            "Too many codes that do not exist were typed at this shop. "
            "Try again in 10 minutes."
        ),
        "merchant_not_approved": str(NOT_APPROVED),
    }
    form = CodeForm(formdata=None, code=code)
    form.code.errors = [messages.get(error.code, _("This code does not exist. Check the digits."))]
    status = error.status if error.code in messages else 404
    return render("redeem.html", status, form=form, card_form=CardSpendForm(formdata=None),
                  voucher_form=GiftVoucherForm(formdata=None), voucher_taken=None)


# What a confirm's refusal shares with a look-up: answered on the code form.
LOOKUP_PROBLEMS = ("unknown_code", "too_many_unknown_codes", "merchant_not_approved")


@bp.get("/redeem/<code>")
@staff_required(*SHOP_STAFF)
def redeem_code(code: str, error: str | None = None, status_code: int = 200) -> Any:
    """What the code is worth, and a confirm button."""
    merchant = current_merchant()
    try:
        with counting_code_misses(merchant.id, None):
            redemption = redemptions.lookup_at_till(db(), code, merchant, utcnow())
    except LoyaltyError as problem:
        return _code_problem(code, problem)
    reward = None
    other_shop = False
    if redemption.voucher_id is not None:
        voucher = db().get_one(Voucher, redemption.voucher_id)
        reward = db().scalar(
            sa.select(StampCard.reward).where(StampCard.id == voucher.stamp_card_id)
        )
        other_shop = voucher.merchant_id != current_staff().user.merchant_id
    return render(
        "redeem_code.html",
        status_code,
        error=error,
        done=bool(request.args.get("done")),
        redemption=redemption,
        status=redemptions.display_status(redemption, utcnow()),
        reward=reward,
        other_shop=other_shop,
        form=ActionForm(),
    )


@bp.post("/redeem/<code>")
@staff_required(*SHOP_STAFF)
def redeem_confirm(code: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    merchant = current_merchant()
    try:
        with counting_code_misses(merchant.id, None):
            redemptions.confirm_redemption(db(), code, merchant, utcnow())
    except LoyaltyError as error:
        if error.code in LOOKUP_PROBLEMS:
            return _code_problem(code, error)
        return redeem_code(code, error=error.code, status_code=error.status)
    return redirect(url_for("portal.redeem_code", code=code, done=1), 303)


@bp.post("/redeem/gift-voucher")
@staff_required(*SHOP_STAFF)
def redeem_gift_voucher() -> Any:
    """A printed gift voucher taken as payment: its whole amount, once, after a question.

    Like a printed card, it needs no phone; the shop is paid its euros in the
    monthly settlement.
    """
    form = GiftVoucherForm()
    if not form.validate_on_submit():
        return redeem(voucher_form=form, http_status=422)
    merchant = current_merchant()
    messages = {
        "unknown_voucher": _("No gift voucher of this town has this code. Check it."),
        "already_redeemed": _("This gift voucher was already used."),
        "voucher_expired": _("This gift voucher has expired."),
        "merchant_not_approved": str(NOT_APPROVED),
    }
    try:
        found = vouchers.find_voucher(db(), merchant.scheme_id, form.voucher_code.data or "")
        if found.redeemed_at is not None:
            raise Conflict("this voucher was already redeemed", code="already_redeemed")
        if not confirm.confirmed():
            return confirm.ask(render, confirm.Question(
                title=_("Take this gift voucher of %(amount)s?", amount=euro(found.amount_cents)),
                consequence=_("Give %(amount)s discount on this sale. The voucher is then "
                              "used up; the municipality pays the shop in the monthly "
                              "settlement.", amount=euro(found.amount_cents)),
                yes=_("Yes, take the voucher"),
                back=url_for("portal.redeem"),
            ))
        taken = vouchers.spend_at_till(db(), found.code, merchant, utcnow())
    except LoyaltyError as error:
        form.voucher_code.errors = [messages.get(error.code, error.message)]
        return redeem(voucher_form=form, http_status=error.status)
    return redeem(voucher_taken=taken.amount_cents, http_status=200)
