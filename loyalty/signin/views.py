"""Sign in and out, forgotten and changed passwords."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from loyalty import mail, security, staff
from loyalty.db import utcnow
from loyalty.errors import InvalidInput, TooManyAttempts, Unauthorized
from loyalty.models import StaffUser
from loyalty.signin import (
    DEVICE_LIFETIME,
    SESSION_LIFETIME,
    StaffPrincipal,
    current_staff,
    home_for,
    staff_required,
)
from loyalty.signin.forms import ChangePasswordForm, ForgotForm, LoginForm, NewPasswordForm
from loyalty.web import db, independent_transaction, local_path, personal_page, public_url

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
    except TooManyAttempts:
        form.password.errors = [_("Too many failed attempts. Try again in 15 minutes.")]
        return _render("login.html", 429, form=form)
    except Unauthorized:
        # End this transaction first: on SQLite it holds the write lock.
        session.rollback()
        with independent_transaction() as side:
            staff.record_failure(side, email, ip, now)
        form.password.errors = [_("Wrong e-mail address or password.")]
        return _render("login.html", 401, form=form)
    remember = bool(form.remember.data)
    secret = staff.open_session(
        session, user, now,
        kind="device" if remember else "web",
        lifetime=DEVICE_LIFETIME if remember else SESSION_LIFETIME,
    )
    record = staff.session_record(session, secret.id)
    login_user(StaffPrincipal(user, record, secret.secret), remember=remember)
    return redirect(local_path(request.args.get("next"), home_for(user.role)), 303)


@bp.post("/logout")
@staff_required()
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
