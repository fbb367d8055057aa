"""Staff sign-in for the merchant portal and the municipality dashboard.

Flask-Login keeps only the secret of a server-side StaffSession record in the
signed session cookie (a browser session's own kind and prefix, which the API
refuses: a cookie is no bearer token); every request looks the record up, so
logging out, changing the password or an admin's revocation ends the session
at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, g, redirect, url_for
from flask_login import LoginManager, UserMixin, current_user

from loyalty.access import staff, totp
from loyalty.errors import Unauthorized
from loyalty.infra.db import utcnow
from loyalty.models import Role, Scheme, StaffSession, StaffUser
from loyalty.web import db

F = TypeVar("F", bound=Callable[..., Any])

# A staff session ends after 30 idle minutes; a device the owner chose to
# remember (the till's tablet) after 12 idle hours. Neither lives past 30 days.
IDLE_TIMEOUT = timedelta(minutes=30)
DEVICE_IDLE_TIMEOUT = timedelta(hours=12)
SESSION_LIFETIME = timedelta(hours=12)
DEVICE_LIFETIME = timedelta(days=30)

login_manager = LoginManager()
login_manager.login_view = "signin.login"
login_manager.login_message = None  # the login page says it itself
login_manager.session_protection = "basic"


class StaffPrincipal(UserMixin):
    """The signed-in staff member; its id for Flask-Login is the session secret."""

    def __init__(self, user: StaffUser, record: StaffSession, secret: str) -> None:
        self.user = user
        self.record = record
        self._secret = secret

    def get_id(self) -> str:
        return self._secret

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def is_active(self) -> bool:
        return self.user.active


@login_manager.user_loader
def _load(secret: str) -> StaffPrincipal | None:
    now = utcnow()
    session = db()
    try:
        user, record = staff.user_by_session_token(
            session, secret, now, kinds=staff.BROWSER_KINDS
        )
    except Unauthorized:
        return None
    idle = DEVICE_IDLE_TIMEOUT if record.kind == "device" else IDLE_TIMEOUT
    if record.last_seen_at + idle <= now:
        return None
    staff.touch_session(session, record, now)
    return StaffPrincipal(user, record, secret)


def current_staff() -> StaffPrincipal:
    principal: StaffPrincipal = current_user._get_current_object()  # noqa: SLF001
    return principal


def scheme_slug() -> str | None:
    """The signed-in staff member's scheme, for the published texts in the footer
    (loyalty.web.published); None for a visitor."""
    if not current_user.is_authenticated:
        return None
    try:
        # Mostly from the session's identity map: the page looked its scheme up.
        return db().get_one(Scheme, current_staff().user.scheme_id).slug
    except sa.exc.SQLAlchemyError:
        # An error page after a failed statement: the footer links without the scheme.
        return None


def staff_required(*roles: Role, two_factor: bool = True) -> Callable[[F], F]:
    """Sign-in required; with roles, any other role gets 403. Whoever must set up
    two-factor sign-in is sent to do so first, unless ``two_factor`` is False."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if two_factor and totp.must_enrol(current_staff().user):
                # Signed in before two-factor sign-in was required, or reset by an admin.
                return redirect(url_for("signin.enrol"), 303)
            if roles and current_staff().role not in roles:
                abort(403)
            g.staff = current_staff()
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def home_for(role: str) -> str:
    """Where a role lands after signing in."""
    from flask import url_for

    if role in (Role.MERCHANT_OWNER, Role.CASHIER):
        return url_for("portal.till")
    if "dashboard.home" in current_app.view_functions:
        return url_for("dashboard.home")
    return url_for("signin.account")
