"""The shopper's pages: claim, wallet, spend, shops and account."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from consumer_web import cookie
from consumer_web.forms import (
    ActionForm,
    DeleteForm,
    EmailForm,
    RecoveryForm,
    SpendForm,
    StatisticsForm,
)
from loyalty.earning import claims
from loyalty.errors import LoyaltyError
from loyalty.infra import mail, qr
from loyalty.infra.db import utcnow
from loyalty.models import Merchant, Scheme, StampCard, Voucher, Wallet
from loyalty.shoppers import erasure, wallets
from loyalty.shoppers.wallet_view import export_data, wallet_summary
from loyalty.spending import redemptions
from loyalty.town import schemes, sectors
from loyalty.web import db, local_path, personal_page, public_url, writes
from loyalty.web.i18n import COOKIE as LANG_COOKIE
from loyalty.web.i18n import LANGUAGES

bp = Blueprint(
    "consumer",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/consumer",
)
MAGIC_LINK_MAX_AGE = 3600


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return personal_page(f"consumer_web/{template}", status, **context)


def _problem(title: str, text: str, status: int) -> Response:
    return _page("problem.html", status, title=title, text=text)


# -- earning ---------------------------------------------------------------

CLAIM_PROBLEMS = {
    "claimed": (
        _l("Already collected"),
        _l("These points were already collected. Each code can be used once."),
        409,
    ),
    "cancelled": (
        _l("Purchase cancelled"),
        _l("The shop cancelled this sale, so it earns no points."),
        409,
    ),
    "expired": (
        _l("This code has expired"),
        _l("Codes are valid for a short time. Ask the cashier for a new one."),
        410,
    ),
}


def _claim_problem(status: str) -> Response:
    title, text, code = CLAIM_PROBLEMS[status]
    return _problem(str(title), str(text), code)


def _unknown_claim() -> Response:
    return _problem(
        _("Code not found"),
        _("We do not know this code. Scan the QR code at the till again."),
        404,
    )


@bp.get("/c/<token>")
def claim_page(token: str) -> Response:
    """What the phone's camera opens. A GET never claims: link previews claim nothing."""
    session = db()
    try:
        claim = claims.get_claim(session, token)
    except LoyaltyError:
        return _unknown_claim()
    status = claims.display_status(claim, utcnow())
    if status != "open":
        return _claim_problem(status)
    merchant = session.get_one(Merchant, claim.merchant_id)
    card = session.get(StampCard, claim.stamp_card_id) if claim.stamp_card_id else None
    return _page(
        "claim.html",
        claim=claim,
        merchant=merchant,
        card=card,
        wallet=cookie.current_wallet(),
        form=ActionForm(),
    )


@bp.post("/c/<token>")
def claim_collect(token: str) -> Response:
    """Collect the points with one tap; the first visit also creates the wallet."""
    form = ActionForm()
    if not form.validate_on_submit():
        return _problem(_("Please try again"), _("The page was open too long."), 400)
    session = db()
    try:
        claim = claims.get_claim(session, token)
    except LoyaltyError:
        return _unknown_claim()
    wallet = cookie.current_wallet()
    new_wallet = None
    if wallet is None or wallet.scheme_id != claim.scheme_id:
        new_wallet = wallets.create_wallet(session, session.get_one(Scheme, claim.scheme_id))
        wallet = new_wallet.wallet
    try:
        result = claims.claim_points(session, token, wallet, utcnow())
    except LoyaltyError as error:
        status = claims.display_status(claim, utcnow())
        if error.code == "merchant_not_approved":  # suspended since the sale
            return _problem(
                _("This is not possible right now."),
                _("This shop can no longer give points. Please contact the municipality."),
                error.status,
            )
        if status not in CLAIM_PROBLEMS:  # the claim is still open; the wallet is frozen
            return _problem(
                _("This is not possible right now."),
                _("Your wallet is frozen. Please contact the municipality."),
                error.status,
            )
        return _claim_problem(status)
    summary = wallet_summary(session, wallet)
    card = session.get(StampCard, claim.stamp_card_id) if claim.stamp_card_id else None
    progress = next(
        (c for c in summary["stamp_cards"] if card and c["card_id"] == card.id), None
    )
    response = _page(
        "claimed.html",
        result=result,
        summary=summary,
        card=card,
        card_progress=progress,
        recovery_code=new_wallet.recovery_code if new_wallet else None,
    )
    if new_wallet is not None:
        cookie.remember(response, new_wallet.token)
    return response


# -- the wallet --------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    if cookie.current_wallet() is not None:
        return redirect(url_for("consumer.wallet_page"))  # type: ignore[return-value]
    return _page("home.html", recovery=RecoveryForm())


@bp.get("/wallet")
@writes  # returns expired holds to the balance before showing it
def wallet_page() -> Response:
    wallet = cookie.current_wallet()
    if wallet is None:
        return _page("no_wallet.html", recovery=RecoveryForm())
    session = db()
    redemptions.release_expired(session, utcnow(), wallet_id=wallet.id)
    return _page("wallet.html", summary=wallet_summary(session, wallet), spend=SpendForm())


def _wallet_or_home() -> Wallet:
    wallet = cookie.current_wallet()
    if wallet is None:
        abort(redirect(url_for("consumer.home")))
    return wallet


@bp.post("/wallet/spend")
def spend() -> Response:
    wallet = _wallet_or_home()
    session = db()
    form = SpendForm()
    if request.form.get("quick"):
        # A quick-choice button overrides whatever is typed in the field.
        form = SpendForm(formdata=MultiDict({**request.form, "points": request.form["quick"]}))
    if form.validate_on_submit():
        try:
            held = redemptions.create_redemption(session, wallet, form.points.data, utcnow())
        except LoyaltyError as error:
            message = (
                _("You do not have that many points.")
                if error.code == "insufficient_balance"
                else _("This is not possible right now.")
            )
            form.points.errors = [message]
        else:
            return redirect(url_for("consumer.code_page", code=held.code), 303)  # type: ignore[return-value]
    return _page("wallet.html", 422, summary=wallet_summary(session, wallet), spend=form)


@bp.post("/wallet/voucher/<int:voucher_id>")
def spend_voucher(voucher_id: int) -> Response:
    """A spend code for a voucher, to show at the voucher's shop."""
    wallet = _wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        held = redemptions.create_voucher_redemption(db(), wallet, voucher_id, utcnow())
    except LoyaltyError as error:
        return _problem(
            _("This voucher cannot be used"),
            _("It was used already, is behind another code, or has expired."),
            error.status,
        )
    return redirect(url_for("consumer.code_page", code=held.code), 303)  # type: ignore[return-value]


def _own_code(code: str) -> Any:
    wallet = _wallet_or_home()
    try:
        redemption = redemptions.get_redemption(db(), code, wallet.scheme_id)
    except LoyaltyError:
        redemption = None
    if redemption is None or redemption.wallet_id != wallet.id:
        # A page in the shopper's language, not the server's bare "Not Found".
        abort(_problem(_("Code not found"), _("This spend code is not in your wallet."), 404))
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
    return _page(
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
    wallet = _wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        redemptions.cancel_redemption(db(), wallet, code, utcnow())
    except LoyaltyError:
        return redirect(url_for("consumer.code_page", code=code), 303)  # type: ignore[return-value]
    return redirect(url_for("consumer.wallet_page"), 303)  # type: ignore[return-value]


# -- shops -------------------------------------------------------------------


@bp.get("/shops")
def shops_page() -> Response:
    session = db()
    wallet = cookie.current_wallet()
    scheme_id = wallet.scheme_id if wallet else None
    shops = schemes.approved_merchants(session, scheme_id)
    lang = str(current_language())
    query = (request.args.get("q") or "").strip()[:100]
    sector = request.args.get("sector") or ""
    sector_options = sorted(
        {(m.sector, sectors.label(m.sector, lang)) for m in shops}, key=lambda s: s[1]
    )
    if query:
        q = query.casefold()
        shops = [m for m in shops if q in m.name.casefold() or q in (m.address or "").casefold()]
    if sector:
        shops = [m for m in shops if m.sector == sector]
    return _page(
        "shops.html",
        shops=shops,
        query=query,
        sector=sector,
        sector_options=sector_options,
        sector_label=lambda code: sectors.label(code, lang),
    )


def current_language() -> str:
    from flask_babel import get_locale

    return str(get_locale())


# -- account -------------------------------------------------------------------


def _account(status: int = 200, **forms: Any) -> Response:
    wallet = cookie.current_wallet()
    scheme = db().get_one(Scheme, wallet.scheme_id) if wallet else None
    stats = forms.pop("stats", None) or StatisticsForm(
        postcode=wallet.home_postcode if wallet else None,
        village=wallet.home_village if wallet else None,
        age_band=wallet.age_band if wallet else None,
    )
    stats.village.choices = [("", "—"), *((v, v) for v in (scheme.villages if scheme else []))]
    return _page(
        "account.html",
        status,
        wallet=wallet,
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
    wallet = _wallet_or_home()
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
        return _problem(
            _("This link no longer works"),
            _("Links work for one hour and only once. Ask for a new one on the account page."),
            410,
        )
    return _page("link.html", purpose=data["p"], email=data["e"], form=ActionForm())


@bp.post("/account/link")
def magic_link_apply() -> Response:
    data = _load_link(request.args.get("t", ""))
    if data is None or not ActionForm().validate_on_submit():
        return _problem(
            _("This link no longer works"),
            _("Links work for one hour and only once. Ask for a new one on the account page."),
            410,
        )
    session = db()
    wallet = session.get(Wallet, data["w"])
    if wallet is None or wallet.status == "deleted" or wallet.token_hash[:16] != data["t"]:
        return _problem(
            _("This link no longer works"),
            _("Links work for one hour and only once. Ask for a new one on the account page."),
            410,
        )
    try:
        wallets.set_email(session, wallet, data["e"])
    except LoyaltyError:
        return _problem(
            _("This address is in use"),
            _("This e-mail address belongs to another wallet."),
            409,
        )
    token = wallets.new_token_for(session, wallet)
    response = redirect(url_for("consumer.account_page", done=data["p"]), 303)
    cookie.remember(response, token)  # type: ignore[arg-type]
    return response  # type: ignore[return-value]


@bp.post("/account/restore")
def account_restore() -> Response:
    form = RecoveryForm()
    if not form.validate_on_submit():
        return _account(422, recovery=form)
    try:
        restored = wallets.recover_wallet(db(), form.recovery_code.data)
    except LoyaltyError:
        form.recovery_code.errors = [_("We do not know this recovery code.")]
        return _account(422, recovery=form)
    response = redirect(url_for("consumer.wallet_page"), 303)
    cookie.remember(response, restored.token)  # type: ignore[arg-type]
    return response  # type: ignore[return-value]


@bp.post("/account/statistics")
def account_statistics() -> Response:
    wallet = _wallet_or_home()
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
    wallet = _wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    erasure.withdraw_statistics(db(), wallet)
    return redirect(url_for("consumer.account_page", done="withdrawn"), 303)  # type: ignore[return-value]


@bp.get("/account/export")
def account_export() -> Response:
    wallet = _wallet_or_home()
    body = json.dumps(export_data(db(), wallet), indent=2, ensure_ascii=False, default=str)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="lokaal-sparen-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/delete")
def account_delete() -> Response:
    wallet = _wallet_or_home()
    form = DeleteForm()
    if not form.validate_on_submit():
        return _account(422, delete=form)
    erasure.delete_wallet(db(), wallet, utcnow())
    response = _page("deleted.html")
    cookie.forget(response)
    return response


# -- language, installable app -------------------------------------------------


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    if code not in LANGUAGES:
        abort(404)
    # Only local paths: an open redirect would help phishing.
    response = redirect(local_path(request.args.get("next"), "/"))
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response  # type: ignore[return-value]


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    data = {
        "name": "Lokaal Sparen",
        "short_name": _("Savings"),
        "start_url": "/wallet",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5d3b",
        "lang": current_language(),
        "icons": [
            {"src": url_for("consumer.static", filename="icon-192.png"), "sizes": "192x192",
             "type": "image/png"},
            {"src": url_for("consumer.static", filename="icon-512.png"), "sizes": "512x512",
             "type": "image/png"},
            {"src": url_for("consumer.static", filename="icon.svg"), "sizes": "any",
             "type": "image/svg+xml"},
        ],
    }
    return Response(json.dumps(data), mimetype="application/manifest+json")


@bp.get("/sw.js")
def service_worker() -> Response:
    # Served from the root so that its scope is the whole wallet.
    response = send_from_directory(bp.static_folder or "", "sw.js", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/shops/<int:merchant_id>/logo")
def shop_logo(merchant_id: int) -> Response:
    """A shop's logo, from our own host (no third-party image hosting)."""
    merchant = db().get(Merchant, merchant_id)
    if merchant is None or merchant.logo is None or merchant.logo_type is None:
        abort(404)
    response = Response(merchant.logo, mimetype=merchant.logo_type)
    # The URL carries the upload time (?v=), so a new logo gets a new URL.
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
