"""Helpers for tests that fill in the pages' forms with Flask's test client."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loyalty.infra.db import sqlite_begin_mode
from loyalty.models import StaffUser
from tests.factories import PASSWORD, otp

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf(html: str) -> str:
    """The CSRF token of the (first) form in a page."""
    match = CSRF.search(html)
    assert match, "no CSRF token in the page:\n" + html[:2000]
    return match.group(1)


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, **form: str
) -> TestResponse:
    """Sign in through the login form (English pages) and its second step; the last
    answer (tests.forms.complete_sign_in). ``form``: more fields, e.g. remember="y"."""
    client.set_cookie("lang", "en")  # the assertions read English texts
    page = client.get("/login").get_data(as_text=True)
    done = client.post(
        "/login", data={"csrf_token": csrf(page), "email": email, "password": password, **form}
    )
    return complete_sign_in(client, done, email)


def signed_in(
    client: FlaskClient, email: str, password: str = PASSWORD, **form: str
) -> TestResponse:
    """sign_in that must succeed: the redirect to the user's home page."""
    done = sign_in(client, email, password, **form)
    assert done.status_code == 303, done.get_data(as_text=True)
    return done


def complete_sign_in(client: FlaskClient, response: TestResponse, email: str) -> TestResponse:
    """The second step of a sign-in, as its user would take it, and its answer.

    After the password step sent ``client`` to the code page: type the code
    (tests.factories.otp). To the enrolment page (an admin or shop owner not
    enrolled yet): scan the key shown, type its code, and answer the page of
    recovery codes (200). Any other answer is returned as it is.
    """
    path = urlsplit(response.headers["Location"]).path if response.status_code == 303 else ""
    if path not in ("/login/code", "/account/two-factor"):
        return response
    page = client.get(path).get_data(as_text=True)
    app = client.application
    token = sqlite_begin_mode.set("DEFERRED")
    try:
        with app.extensions["loyalty.sessions"]() as s:
            user = s.scalars(sa.select(StaffUser).where(StaffUser.email == email.lower())).one()
            user_id, secret = user.id, user.totp_secret
    finally:
        sqlite_begin_mode.reset(token)
    if path == "/account/two-factor":
        shown = TOTP_KEY.search(page)
        assert shown, page
        secret = shown.group(1)
    assert secret is not None
    return client.post(
        path, data={"csrf_token": csrf(page), "code": otp(app, user_id, secret)}
    )


TOTP_KEY = re.compile(r'<code class="totp-secret">([A-Z2-7]+)</code>')
