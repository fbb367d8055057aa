"""The wallet: balance and history, spend codes and vouchers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from consumer_web import cookie, news
from consumer_web.common import bp, page, problem, wallet_or_home
from consumer_web.forms import (
    ActionForm,
    RecoveryForm,
    SpendForm,
)
from loyalty.errors import LoyaltyError
from loyalty.infra import qr
from loyalty.infra.db import utcnow
from loyalty.models import Merchant, Scheme, StampCard, Voucher, Wallet
from loyalty.money import euro_expiry, euros
from loyalty.shoppers import printed_cards, wallets
from loyalty.shoppers.wallet_view import wallet_summary
from loyalty.spending import redemptions
from loyalty.web import db, i18n, writes
from loyalty.web.wallet_passes import apple_signer, google_issuer


@bp.get("/")
def home() -> Response:
    if cookie.current_wallet() is not None:
        return redirect(url_for("consumer.wallet_page"))  # type: ignore[return-value]
    return page("home.html", recovery=RecoveryForm())


@bp.get("/wallet")
@writes  # returns expired holds to the balance before showing it
def wallet_page() -> Response:
    wallet = cookie.current_wallet()
    if wallet is None:
        return page("no_wallet.html", recovery=RecoveryForm())
    session = db()
    now = utcnow()
    redemptions.release_expired(session, now, wallet_id=wallet.id)
    # A credit part past its date is not shown as spendable while the nightly job has not run.
    euro_expiry.expire_wallet(session, session.get_one(Scheme, wallet.scheme_id), wallet, now)
    return _wallet(wallet, 200, SpendForm())


def _towns(wallet: Wallet) -> list[dict[str, Any]]:
    """The phone's wallets by town, for the switch; empty for a phone with one."""
    here = cookie.phone_wallets()
    if len(here) < 2:
        return []
    names = dict(
        db().execute(
            sa.select(Scheme.id, Scheme.name).where(Scheme.id.in_([w.scheme_id for w in here]))
        ).all()
    )
    return [
        {"scheme_id": w.scheme_id, "name": names[w.scheme_id], "current": w.id == wallet.id}
        for w in here
    ]


def _wallet(wallet: Wallet, status: int, spend_form: SpendForm) -> Response:
    session = db()
    scheme = session.get_one(Scheme, wallet.scheme_id)
    return page(
        "wallet.html",
        status,
        summary=wallet_summary(session, wallet),
        scheme=scheme,
        **news.wallet_news(wallet, scheme),
        towns=_towns(wallet),
        switch=ActionForm(prefix="town"),
        spend=spend_form,
        # The wallet apps' buttons, only where their keys are configured.
        apple_wallet=apple_signer() is not None,
        google_wallet=google_issuer() is not None,
    )


@bp.get("/wallet/card")
@writes  # the phone's card number is made on its first showing
def card_page() -> Response:
    """The wallet's card QR for the till's scanner: points without tapping anything."""
    wallet = wallet_or_home()
    number = printed_cards.wallet_card_number(db(), wallet)
    svg = qr.qr_svg(number, title=_("Card number"))
    response = page(
        "card.html",
        number=printed_cards.format_number(number),
        qr_svg=svg,
        scheme=db().get_one(Scheme, wallet.scheme_id),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/wallet/town")
def switch_town() -> Response:
    """Show the phone's wallet of another town."""
    if not ActionForm(prefix="town").validate_on_submit():
        abort(400)
    response = redirect(url_for("consumer.wallet_page"), 303)
    scheme = request.form.get("scheme", "")
    if scheme.isdigit():  # a wallet the phone does not keep changes nothing
        cookie.choose(response, int(scheme))  # type: ignore[arg-type]
    return response  # type: ignore[return-value]


@bp.post("/wallet/spend")
def spend() -> Response:
    wallet = wallet_or_home()
    session = db()
    form = SpendForm()
    if request.form.get("quick"):
        # A quick-choice button overrides whatever is typed in the field.
        form = SpendForm(formdata=MultiDict({**request.form, "points": request.form["quick"]}))
    if form.validate_on_submit():
        now = utcnow()
        points, cents = form.points.data or 0, form.euros.cents or 0
        # Past-date credit is gone before the choice is checked against what is left.
        euro_expiry.expire_wallet(session, session.get_one(Scheme, wallet.scheme_id), wallet,
                                  now)
        credit = euros.balance(session, wallet)
        if not points and not cents:
            form.points.errors = [
                _("Choose points, credit or both.") if credit else _("How many points?")
            ]
        elif points > wallets.points_balance(session, wallet):
            form.points.errors = [_("You do not have that many points.")]
        elif cents > credit:
            form.euros.errors = [_("You have %(amount)s credit: choose at most that.",
                                   amount=i18n.euro(credit))]
        else:
            try:
                held = redemptions.create_redemption(session, wallet, points, now,
                                                     euro_cents=cents)
            except LoyaltyError as error:
                message = (
                    _("You do not have that many points.")
                    if error.code == "insufficient_balance"
                    else _("This is not possible right now.")
                )
                form.points.errors = [message]
            else:
                return redirect(url_for("consumer.code_page", code=held.code), 303)  # type: ignore[return-value]
    return _wallet(wallet, 422, form)


@bp.post("/wallet/voucher/<int:voucher_id>")
def spend_voucher(voucher_id: int) -> Response:
    """A spend code for a voucher, to show at the voucher's shop."""
    wallet = wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        held = redemptions.create_voucher_redemption(db(), wallet, voucher_id, utcnow())
    except LoyaltyError as error:
        return problem(
            _("This voucher cannot be used"),
            _("It was used already, is behind another code, or has expired."),
            error.status,
        )
    return redirect(url_for("consumer.code_page", code=held.code), 303)  # type: ignore[return-value]


def _own_code(code: str) -> Any:
    wallet = wallet_or_home()
    try:
        redemption = redemptions.get_redemption(db(), code, wallet.scheme_id)
    except LoyaltyError:
        redemption = None
    if redemption is None or redemption.wallet_id != wallet.id:
        # A page in the shopper's language, not the server's bare "Not Found".
        abort(problem(_("Code not found"), _("This spend code is not in your wallet."), 404))
    return redemption


def _code_status(redemption: Any) -> dict[str, Any]:
    merchant = db().get(Merchant, redemption.merchant_id) if redemption.merchant_id else None
    return {
        "status": redemptions.display_status(redemption, utcnow()),
        "points": redemption.points,
        "discount_cents": redemption.discount_cents,
        "merchant": merchant.name if merchant else None,
        "expires_at": redemption.expires_at.isoformat(),
    }


@bp.get("/wallet/code/<code>")
def code_page(code: str) -> Response:
    """The full-screen code to show the cashier; it updates itself once used."""
    redemption = _own_code(code)
    svg = qr.qr_svg(redemption.code, title=_("Spend code %(code)s", code=redemption.code))
    reward = None
    if redemption.voucher_id is not None:
        reward = db().scalar(
            sa.select(StampCard.reward)
            .join(Voucher, Voucher.stamp_card_id == StampCard.id)
            .where(Voucher.id == redemption.voucher_id)
        )
    return page(
        "code.html",
        redemption=redemption,
        voucher_reward=reward,
        state=_code_status(redemption),
        qr_svg=svg,
        cancel=ActionForm(),
    )


@bp.get("/wallet/code/<code>/status")
def code_status(code: str) -> Response:
    response = jsonify(_code_status(_own_code(code)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/wallet/code/<code>/cancel")
def code_cancel(code: str) -> Response:
    wallet = wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        redemptions.cancel_redemption(db(), wallet, code, utcnow())
    except LoyaltyError:
        return redirect(url_for("consumer.code_page", code=code), 303)  # type: ignore[return-value]
    return redirect(url_for("consumer.wallet_page"), 303)  # type: ignore[return-value]
