"""Sign in and out, forgotten and changed passwords."""

from __future__ import annotations

import math
import time
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from loyalty.access import staff, totp
from loyalty.errors import Forbidden, InvalidInput, TooManyAttempts, Unauthorized
from loyalty.infra import mail, qr, security
from loyalty.infra.db import utcnow
from loyalty.models import StaffUser
from loyalty.web import db, independent_transaction, local_path, personal_page, public_url
from loyalty.web.signin import (
    DEVICE_LIFETIME,
    SESSION_LIFETIME,
    StaffPrincipal,
    current_staff,
    home_for,
    login_manager,
    scheme_slug,
    staff_required,
)
from loyalty.web.signin.forms import (
    ChangePasswordForm,
    CodeForm,
    EnrolForm,
    ForgotForm,
    LoginForm,
    NewPasswordForm,
)

bp = Blueprint(
    "signin",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/staff",
)
RESET_MAX_AGE = 3600


def _render(template: str, status: int = 200, **context: Any) -> Any:
    return personal_page(f"signin/{template}", status, **context)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if not form.validate_on_submit():
        return _render("login.html", 422 if form.is_submitted() else 200, form=form)
    session = db()
    now = utcnow()
    ip = request.remote_addr or "unknown"
    email = form.email.data or ""
    try:
        staff.check_throttle(session, email, ip, now)
        user = staff.authenticate(session, email, form.password.data or "")
    except TooManyAttempts as error:
        form.password.errors = [throttled_message(error)]
        return _render("login.html", 429, form=form)
    except Unauthorized:
        # End this transaction first: on SQLite it holds the write lock.
        session.rollback()
        with independent_transaction() as side:
            staff.record_failure(side, email, ip, now)
        form.password.errors = [_("Wrong e-mail address or password.")]
        return _render("login.html", 401, form=form)
    except Forbidden:
        form.password.errors = [_("This shop is suspended by the municipality.")]
        return _render("login.html", 403, form=form)
    remember = bool(form.remember.data)
    target = local_path(request.args.get("next"), "")
    if totp.must_enrol(user) or (
        totp.is_enrolled(user)
        and not totp.device_trusted(session, user, request.cookies.get(DEVICE_COOKIE), now)
    ):
        # Half signed in: no session record yet, only this note in the signed cookie.
        cookie_session[PENDING_KEY] = {
            "u": user.id, "h": user.password_hash[-16:], "r": remember, "n": target or "",
            "t": int(time.time()),
        }
        return redirect(url_for("signin.enrol" if totp.must_enrol(user) else "signin.code"), 303)
    _open(user, remember)
    return redirect(target or home_for(user.role), 303)


def _open(user: StaffUser, remember: bool) -> None:
    """The server-side session record and Flask-Login's cookie: signed in."""
    secret = staff.open_session(
        db(), user, utcnow(),
        kind="device" if remember else "web",
        lifetime=DEVICE_LIFETIME if remember else SESSION_LIFETIME,
    )
    record = staff.session_record(db(), secret.id)
    login_user(StaffPrincipal(user, record, secret.secret), remember=remember)


# -- the second step: a code from the phone ------------------------------------------

PENDING_KEY = "staff_2fa"
# The password step counts this long; then the sign-in starts again.
PENDING_MAX_AGE = 600
# The cookie of a browser that skips the code (loyalty.access.totp.trust_device).
DEVICE_COOKIE = "staff_trusted_device"


def _pending() -> tuple[StaffUser, dict[str, Any]] | None:
    """The user who gave the right password in this browser and still owes a code."""
    note = cookie_session.get(PENDING_KEY)
    if not isinstance(note, dict) or note.get("t", 0) + PENDING_MAX_AGE < time.time():
        return None
    user = db().get(StaffUser, note.get("u"))
    # A password changed since then ends the half sign-in too.
    if user is None or not user.active or user.password_hash[-16:] != note.get("h"):
        return None
    return user, note


def _second_factor_refused(user: StaffUser, form: Any, template: str, **context: Any) -> Any:
    """A wrong code: counted by the login throttle like a wrong password."""
    email = user.email  # read before the rollback expires it
    db().rollback()  # on SQLite our transaction holds the write lock
    with independent_transaction() as side:
        staff.record_failure(side, email, request.remote_addr or "unknown", utcnow())
    form.code.errors = [_("This code is wrong or already used.")]
    return _render(template, 401, form=form, **context)


def throttled_message(error: TooManyAttempts) -> str:
    """What a form says while the login throttle makes someone wait."""
    minutes = math.ceil((error.retry_after_seconds or 15 * 60) / 60)
    return ngettext(
        "Too many failed attempts. Try again in %(num)d minute.",
        "Too many failed attempts. Try again in %(num)d minutes.",
        minutes,
    )


def _throttled(user: StaffUser) -> str | None:
    """The form error while this user's sign-in must wait, else None."""
    try:
        staff.check_throttle(db(), user.email, request.remote_addr or "unknown", utcnow())
    except TooManyAttempts as error:
        return throttled_message(error)
    return None


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> Any:
    pending = _pending()
    if pending is None:
        return redirect(url_for("signin.login"), 303)
    user, note = pending
    if totp.must_enrol(user):
        return redirect(url_for("signin.enrol"), 303)
    form = CodeForm()
    if not form.validate_on_submit():
        return _render("code.html", 422 if form.is_submitted() else 200, form=form)
    if waiting := _throttled(user):
        form.code.errors = [waiting]
        return _render("code.html", 429, form=form)
    now = utcnow()
    try:
        totp.verify(db(), user, form.code.data or "", now)
    except Unauthorized:
        return _second_factor_refused(user, form, "code.html")
    cookie_session.pop(PENDING_KEY, None)
    _open(user, bool(note.get("r")))
    response = redirect(note.get("n") or home_for(user.role), 303)
    if form.remember_device.data:
        response.set_cookie(
            DEVICE_COOKIE,
            totp.trust_device(db(), user, now),
            max_age=int(totp.DEVICE_LIFETIME.total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


@bp.route("/account/two-factor", methods=["GET", "POST"])
def enrol() -> Any:
    """Set up two-factor sign-in: while signing in (required roles) or from the account page."""
    pending = None if current_user.is_authenticated else _pending()
    if current_user.is_authenticated:
        user = current_staff().user
    elif pending is not None and totp.must_enrol(pending[0]):
        user = pending[0]
    else:
        return redirect(url_for("signin.login"), 303)
    if totp.is_enrolled(user):
        return _render("enrol.html", enrolled=True,
                       left=totp.recovery_codes_left(db(), user), home=home_for(user.role))
    secret = totp.start_enrolment(db(), user)
    picture = qr.qr_svg(totp.otpauth_uri(user), title=_("QR code for your authenticator app"))
    context = {"secret": secret, "qr": picture, "enrolled": False}
    form = EnrolForm()
    if not form.validate_on_submit():
        return _render("enrol.html", 422 if form.is_submitted() else 200, form=form, **context)
    if waiting := _throttled(user):
        form.code.errors = [waiting]
        return _render("enrol.html", 429, form=form, **context)
    try:
        codes = totp.confirm_enrolment(db(), user, form.code.data or "", utcnow())
    except Unauthorized:
        return _second_factor_refused(user, form, "enrol.html", **context)
    home = home_for(user.role)
    if pending is not None:
        cookie_session.pop(PENDING_KEY, None)
        _open(user, bool(pending[1].get("r")))
        home = pending[1].get("n") or home
    return _render("enrolled.html", codes=codes, home=home)


@bp.post("/logout")
@staff_required(two_factor=False)  # signing out needs no second factor
def logout() -> Any:
    from flask_wtf.csrf import validate_csrf

    validate_csrf(request.form.get("csrf_token"))
    staff.revoke_session(db(), current_staff().record.id, utcnow())
    logout_user()
    return redirect(url_for("signin.login"), 303)


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def password_link(user: StaffUser) -> str:
    """A link to choose a new password, valid an hour and until the password changes.

    Part of the password hash is in the link: it dies once a password is chosen.
    """
    token = _reset_serializer().dumps({"u": user.id, "h": user.password_hash[-16:]})
    return public_url(url_for("signin.reset", t=token))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot() -> Any:
    form = ForgotForm()
    if not form.validate_on_submit():
        return _render("forgot.html", 422 if form.is_submitted() else 200, form=form)
    email = (form.email.data or "").strip().lower()
    user = db().scalar(sa.select(StaffUser).where(StaffUser.email == email))
    # The same answer whether or not the address is known.
    if user is not None and user.active:
        link = password_link(user)
        mail.send(
            current_app.config,
            user.email,
            _("Choose a new password for Lokaal Sparen"),
            _(
                "Hello,\n\nOpen this link within an hour to choose a new password:\n\n"
                "%(link)s\n\nDid you not ask for this? Then ignore this message; your "
                "password stays as it is.\n\nLokaal Sparen",
                link=link,
            ),
        )
    return _render("forgot.html", form=ForgotForm(formdata=None), sent=True)


def _user_from_reset(token: str) -> StaffUser | None:
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    user = db().get(StaffUser, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or user.password_hash[-16:] != data.get("h"):
        return None
    return user


@bp.route("/password/reset", methods=["GET", "POST"])
def reset() -> Any:
    user = _user_from_reset(request.args.get("t", ""))
    if user is None:
        return _render("reset.html", 410, form=None)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _render("reset.html", 422 if form.is_submitted() else 200, form=form)
    staff.change_password(db(), user, form.password.data or "", utcnow())
    return redirect(url_for("signin.login", reset="done"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@staff_required()
def account() -> Any:
    form = ChangePasswordForm()
    principal = current_staff()
    if not form.validate_on_submit():
        return _render("account.html", 422 if form.is_submitted() else 200, form=form)
    if not security.verify_password(principal.user.password_hash, form.current.data or ""):
        form.current.errors = [_("This is not your current password.")]
        return _render("account.html", 422, form=form)
    try:
        staff.change_password(db(), principal.user, form.password.data or "", utcnow())
    except InvalidInput as error:
        form.password.errors = [error.message]
        return _render("account.html", 422, form=form)
    logout_user()
    return redirect(url_for("signin.login", changed="1"), 303)


def init_app(app: Flask) -> None:
    """Sign-in on the app: Flask-Login, its remember-me cookie, the pages."""
    login_manager.init_app(app)
    app.config.setdefault("REMEMBER_COOKIE_DURATION", DEVICE_LIFETIME)
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE"))
    app.jinja_env.globals["staff_scheme_slug"] = scheme_slug
    app.register_blueprint(bp)
