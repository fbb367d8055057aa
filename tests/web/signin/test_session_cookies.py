"""A browser's staff session is no API token: its cookies carry a secret of a kind
the API refuses, and it ends after its idle time on every path."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Role, StaffSession, StaffUser
from loyalty.web.signin import IDLE_TIMEOUT
from tests.api.helpers import assert_error
from tests.factories import bearer, make_scheme, make_user, staff_token
from tests.forms import signed_in

REPORT = "/api/v1/reports/spending?period=2026-11&by=sector"


def _signed_in(client: FlaskClient, user: StaffUser, *, remember: bool) -> None:
    signed_in(client, user.email, **({"remember": "y"} if remember else {}))
    assert client.get("/account/password").status_code == 200


def _cookie_secrets(app: Flask, client: FlaskClient) -> list[str]:
    """The session secrets the browser holds: in Flask's signed session cookie and
    in Flask-Login's remember cookie (``secret|signature``)."""
    session_cookie = client.get_cookie("session")
    assert session_cookie is not None
    data = app.session_interface.get_signing_serializer(app).loads(  # type: ignore[attr-defined]
        session_cookie.value
    )
    secrets = [data["_user_id"]]
    remember = client.get_cookie("remember_token")
    if remember is not None:
        secrets.append(remember.value.rsplit("|", 1)[0])
    return secrets


def test_cookie_secrets_are_no_bearer_tokens(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    analyst = make_user(session, make_scheme(session), Role.MUNICIPALITY_ANALYST)
    _signed_in(client, analyst, remember=True)
    secrets = _cookie_secrets(app, client)
    assert len(secrets) == 2
    for secret in secrets:
        assert_error(client.get(REPORT, headers=bearer(secret)), 401, "invalid_token")
    # The API's own token of the same user works.
    token = staff_token(client, analyst)
    assert client.get(REPORT, headers=bearer(token)).status_code == 200


def test_an_api_token_is_no_browser_session(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    """Nor the other way round: a token put where the session secret goes signs
    nobody in (the cookie is signed, so only the server could put it there)."""
    analyst = make_user(session, make_scheme(session), Role.MUNICIPALITY_ANALYST)
    token = staff_token(client, analyst)
    with client.session_transaction() as cookie:
        cookie["_user_id"] = token
        cookie["_fresh"] = True
    assert client.get("/account/password").status_code == 302


def test_an_idle_browser_session_ends_on_every_path(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    analyst = make_user(session, make_scheme(session), Role.MUNICIPALITY_ANALYST)
    _signed_in(client, analyst, remember=False)
    secrets = _cookie_secrets(app, client)
    record = session.scalars(sa.select(StaffSession).where(StaffSession.user_id == analyst.id)
                             ).one()
    assert record.kind == "web"
    record.last_seen_at = utcnow() - IDLE_TIMEOUT - timedelta(seconds=1)
    session.commit()
    # Idle too long: the pages send the browser to the login page ...
    assert client.get("/account/password").status_code == 302
    # ... and the API never took the secret at all.
    for secret in secrets:
        assert_error(client.get(REPORT, headers=bearer(secret)), 401, "invalid_token")
