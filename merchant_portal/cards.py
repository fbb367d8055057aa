"""Printed cards at the till: give points to a card, spend with its PIN, print new ones."""

from __future__ import annotations

from typing import Any

from flask import redirect, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from loyalty.errors import Forbidden, LoyaltyError
from loyalty.infra import qr
from loyalty.infra.db import utcnow
from loyalty.models import Scheme
from loyalty.shoppers import printed_cards as paper
from loyalty.web import db, independent_transaction
from loyalty.web.signin import staff_required
from merchant_portal.common import NOT_APPROVED, OWNER, SHOP_STAFF, bp, current_merchant, render
from merchant_portal.forms import CardPointsForm, CardSpendForm, PrintCardsForm
from merchant_portal.redeem import redeem
from merchant_portal.till import own_claim, sale


@bp.post("/till/sales/<int:claim_id>/card")
@staff_required(*SHOP_STAFF)
def sale_to_card(claim_id: int) -> Any:
    """The cashier scans the shopper's card (printed, or on the phone) or types its number:
    the points go to its wallet without the phone tapping anything."""
    claim = own_claim(claim_id)
    form = CardPointsForm()
    if not form.validate_on_submit():
        return sale(claim_id, card_form=form, http_status=422)
    try:
        paper.give_points(db(), claim, form.number.data or "", utcnow())
    except LoyaltyError as error:
        form.number.errors = [
            _("No card has this number. Check the digits.")
            if error.code == "unknown_card"
            else _("These points cannot go to this card.")
        ]
        return sale(claim_id, card_form=form, http_status=error.status)
    return redirect(url_for("portal.sale", claim_id=claim_id), 303)


@bp.post("/redeem/card")
@staff_required(*SHOP_STAFF)
def redeem_card() -> Any:
    """Spend points from a printed card: number, PIN and points, confirmed at once."""
    form = CardSpendForm()
    if not form.validate_on_submit():
        return redeem(card_form=form, http_status=422)
    session_ = db()
    merchant = current_merchant()
    try:
        card = paper.card_by_number(session_, merchant.scheme_id, form.number.data or "")
    except LoyaltyError:
        try:
            paper.wallet_by_card(session_, merchant.scheme_id, form.number.data or "")
        except LoyaltyError:
            form.number.errors = [_("No printed card has this number. Check the digits.")]
            return redeem(card_form=form, http_status=404)
        # A phone's card gives points when scanned; spending needs the shopper's
        # own confirmation, which on a phone is the spend code it makes.
        form.number.errors = [
            _("This card is on the shopper's phone: ask for a spend code from the wallet.")
        ]
        return redeem(card_form=form, http_status=409)
    card_id = card.id
    # The attempt is counted in a transaction of its own, before the PIN is
    # checked, so a wrong PIN stays counted when this request rolls back.
    session_.rollback()  # on SQLite our transaction holds the write lock
    with independent_transaction() as side:
        allowed = paper.reserve_pin_attempt(side, card_id)
    if not allowed:
        form.pin.errors = [
            _(
                "This card is locked after too many wrong PINs. The municipality's desk can "
                "unlock it."
            )
        ]
        return redeem(card_form=form, http_status=403)
    card = paper.card_by_number(session_, merchant.scheme_id, form.number.data or "")
    try:
        redemption = paper.spend(
            session_, card, form.pin.data or "", form.points.data or 0, merchant, utcnow()
        )
    except LoyaltyError as error:
        session_.rollback()
        if error.code == "wrong_pin":
            left = paper.attempts_left(session_, card_id)
            form.pin.errors = [
                ngettext(
                    "Wrong PIN. %(num)d attempt left.", "Wrong PIN. %(num)d attempts left.", left
                )
                if left > 0
                else _("Wrong PIN. The card is now locked: the municipality's desk can unlock it.")
            ]
        else:
            # The PIN was right: that attempt does not count against the card.
            with independent_transaction() as side:
                paper.reset_attempts(side, card_id)
            form.points.errors = [
                _("The card does not have that many points.")
                if error.code == "insufficient_balance"
                else _("This is not possible.")
            ]
        return redeem(card_form=form, http_status=error.status)
    return redirect(url_for("portal.redeem_code", code=redemption.code, done=1), 303)


@bp.route("/printed-cards", methods=["GET", "POST"])
@staff_required(*OWNER)
def printed_cards() -> Any:
    """Print a sheet of cards for shoppers without a smartphone."""
    form = PrintCardsForm()
    merchant = current_merchant()
    if not form.validate_on_submit():
        return render(
            "printed_cards.html", 422 if form.is_submitted() else 200, form=form, merchant=merchant
        )
    scheme = db().get_one(Scheme, merchant.scheme_id)
    try:
        issued = paper.issue_cards(db(), scheme, form.count.data or 0, merchant=merchant)
    except Forbidden:
        form.count.errors = [str(NOT_APPROVED)]
        return render("printed_cards.html", 403, form=form, merchant=merchant)
    sheet = [
        {
            "number": paper.format_number(new.card.number),
            "pin": new.pin,
            "qr": qr.qr_svg(new.card.number, title=_("Card number")),
        }
        for new in issued
    ]
    return render("printed_cards_sheet.html", scheme=scheme, sheet=sheet)
