"""The shopper's account: e-mail and magic links, recovery, statistics consent,
export and erasure."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    request,
    url_for,
)
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from consumer_web import cookie
from consumer_web.common import bp, page, problem, wallet_or_home
from consumer_web.forms import (
    ActionForm,
    DeleteForm,
    EmailForm,
    RecoveryForm,
    StatisticsForm,
)
from loyalty.errors import LoyaltyError
from loyalty.infra import mail
from loyalty.infra.db import utcnow
from loyalty.models import Scheme, Wallet
from loyalty.shoppers import erasure, wallets
from loyalty.shoppers.wallet_view import export_data
from loyalty.web import db, public_url

# A magic link in an e-mail opens the wallet for an hour.
MAGIC_LINK_MAX_AGE = 3600


def _account(status: int = 200, **forms: Any) -> Response:
    wallet = cookie.current_wallet()
    scheme = db().get_one(Scheme, wallet.scheme_id) if wallet else None
    stats = forms.pop("stats", None) or StatisticsForm(
        postcode=wallet.home_postcode if wallet else None,
        village=wallet.home_village if wallet else None,
        age_band=wallet.age_band if wallet else None,
    )
    stats.village.choices = [("", "—"), *((v, v) for v in (scheme.villages if scheme else []))]
    return page(
        "account.html",
        status,
        wallet=wallet,
        scheme=scheme,
        several_towns=len(cookie.phone_wallets()) > 1,
        email_form=forms.pop("email_form", None) or EmailForm(),
        restore_email=forms.pop("restore_email", None) or EmailForm(prefix="restore"),
        recovery=forms.pop("recovery", None) or RecoveryForm(),
        stats=stats,
        withdraw=ActionForm(),
        delete=forms.pop("delete", None) or DeleteForm(),
        sent=request.args.get("sent"),
        done=request.args.get("done"),
    )


@bp.get("/account")
def account_page() -> Response:
    return _account()


def _magic_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="magic-link")


def _send_link(email: str, purpose: str, wallet: Wallet) -> None:
    # The token hash binds the link to the wallet's current token: once the
    # link is used (and a new token issued) or the wallet changes, it is dead.
    payload = {"w": wallet.id, "e": email, "p": purpose, "t": wallet.token_hash[:16]}
    path = url_for("consumer.magic_link", t=_magic_serializer().dumps(payload))
    link = public_url(path)
    if purpose == "link":
        subject = _("Confirm your e-mail address for Lokaal Sparen")
        body = _(
            "Hello,\n\nOpen this link within an hour to add this e-mail address to your "
            "savings wallet:\n\n%(link)s\n\nDid you not ask for this? Then ignore this "
            "message.\n\nLokaal Sparen",
            link=link,
        )
    else:
        subject = _("Open your Lokaal Sparen wallet on your new phone")
        body = _(
            "Hello,\n\nOpen this link within an hour on your new phone to open your "
            "savings wallet there:\n\n%(link)s\n\nYour old phone will be signed out. Did "
            "you not ask for this? Then ignore this message.\n\nLokaal Sparen",
            link=link,
        )
    mail.send(current_app.config, email, subject, body)


@bp.post("/account/email")
def account_email() -> Response:
    wallet = wallet_or_home()
    form = EmailForm()
    if not form.validate_on_submit():
        return _account(422, email_form=form)
    email = form.email.data.strip().lower()
    _send_link(email, "link", wallet)
    return redirect(url_for("consumer.account_page", sent="link"), 303)  # type: ignore[return-value]


@bp.post("/account/restore-email")
def account_restore_email() -> Response:
    form = EmailForm(prefix="restore")
    if not form.validate_on_submit():
        return _account(422, restore_email=form)
    email = form.email.data.strip().lower()
    wallet = wallets.wallet_by_email(db(), email)
    # The same answer whether or not the address is known: no one learns who saves here.
    if wallet is not None:
        _send_link(email, "restore", wallet)
    return redirect(url_for("consumer.account_page", sent="restore"), 303)  # type: ignore[return-value]


def _load_link(token: str) -> dict[str, Any] | None:
    try:
        data = _magic_serializer().loads(token, max_age=MAGIC_LINK_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    return data if isinstance(data, dict) else None


@bp.get("/account/link")
def magic_link() -> Response:
    """The e-mailed link shows a confirm button: mail scanners that open links change nothing."""
    data = _load_link(request.args.get("t", ""))
    if data is None:
        return problem(
            _("This link no longer works"),
            _("Links work for one hour and only once. Ask for a new one on the account page."),
            410,
        )
    return page("link.html", purpose=data["p"], email=data["e"], form=ActionForm())


@bp.post("/account/link")
def magic_link_apply() -> Response:
    data = _load_link(request.args.get("t", ""))
    if data is None or not ActionForm().validate_on_submit():
        return problem(
            _("This link no longer works"),
            _("Links work for one hour and only once. Ask for a new one on the account page."),
            410,
        )
    session = db()
    wallet = session.get(Wallet, data["w"])
    if wallet is None or wallet.status == "deleted" or wallet.token_hash[:16] != data["t"]:
        return problem(
            _("This link no longer works"),
            _("Links work for one hour and only once. Ask for a new one on the account page."),
            410,
        )
    try:
        wallets.set_email(session, wallet, data["e"])
    except LoyaltyError:
        return problem(
            _("This address is in use"),
            _("This e-mail address belongs to another wallet."),
            409,
        )
    response = redirect(url_for("consumer.account_page", done=data["p"]), 303)
    if data["p"] == "restore":
        # A new phone: the wallets of every town the old phone kept come back.
        opened = wallets.reopen_group(session, wallet)
    else:
        opened = [wallets.NewWallet(wallet, wallets.new_token_for(session, wallet), "")]
    _remember_all(response, opened, show=wallet)  # type: ignore[arg-type]
    return response  # type: ignore[return-value]


def _remember_all(response: Response, opened: list[wallets.NewWallet], show: Wallet) -> None:
    for new in opened:
        cookie.remember(response, new.wallet.scheme_id, new.token, show=new.wallet.id == show.id)


@bp.post("/account/restore")
def account_restore() -> Response:
    form = RecoveryForm()
    if not form.validate_on_submit():
        return _account(422, recovery=form)
    try:
        restored = wallets.recover_wallets(db(), form.recovery_code.data)
    except LoyaltyError:
        form.recovery_code.errors = [_("We do not know this recovery code.")]
        return _account(422, recovery=form)
    response = redirect(url_for("consumer.wallet_page"), 303)
    _remember_all(response, restored, show=restored[0].wallet)  # type: ignore[arg-type]
    return response  # type: ignore[return-value]


@bp.post("/account/statistics")
def account_statistics() -> Response:
    wallet = wallet_or_home()
    session = db()
    scheme = session.get_one(Scheme, wallet.scheme_id)
    form = StatisticsForm()
    form.village.choices = [("", "—"), *((v, v) for v in scheme.villages)]
    if not form.validate_on_submit():
        return _account(422, stats=form)
    wallets.set_statistics(
        session,
        wallet,
        postcode=form.postcode.data or None,
        village=form.village.data or None,
        age_band=form.age_band.data or None,
        villages=list(scheme.villages),
    )
    return redirect(url_for("consumer.account_page", done="statistics"), 303)  # type: ignore[return-value]


@bp.post("/account/statistics/withdraw")
def account_statistics_withdraw() -> Response:
    wallet = wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    erasure.withdraw_statistics(db(), wallet)
    return redirect(url_for("consumer.account_page", done="withdrawn"), 303)  # type: ignore[return-value]


@bp.get("/account/export")
def account_export() -> Response:
    wallet = wallet_or_home()
    body = json.dumps(export_data(db(), wallet), indent=2, ensure_ascii=False, default=str)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="lokaal-sparen-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/delete")
def account_delete() -> Response:
    wallet = wallet_or_home()
    form = DeleteForm()
    if not form.validate_on_submit():
        return _account(422, delete=form)
    erasure.delete_wallet(db(), wallet, utcnow())
    response = page("deleted.html")
    cookie.forget(response, wallet.scheme_id)  # the phone's wallets of other towns stay
    return response
