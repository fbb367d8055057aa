"""What the API tests share: the error envelope check and a sale collected end to end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.models import Claim, LoginFailure, StaffUser
from tests.conftest import count


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """The contract's error envelope with exactly this status (and code, if given)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], body
    assert isinstance(error.get("message"), str) and error["message"], body
    if code is not None:
        assert error["code"] == code, body
    return dict(error)


def claims_count(session: Session) -> int:
    """Claims in the database. Ends the read at once: on SQLite an open transaction of
    the test's session would hold the write lock the app's requests wait for."""
    n = count(session, sa.select(Claim.id))
    session.commit()
    return n


def earn(client: FlaskClient, till: dict[str, str], wallet: dict[str, str], cents: int) -> None:
    """A sale at a till, collected by a wallet."""
    created = client.post("/api/v1/claims", json={"amount_cents": cents}, headers=till)
    assert created.status_code == 201, created.json
    collected = client.post(f"/api/v1/claims/{created.json['token']}/claim", headers=wallet)
    assert collected.status_code == 200, collected.json


def wait_after_failures(session: Session, user: StaffUser, seconds: float) -> None:
    """As if ``seconds`` had passed since this account's failures."""
    for failure in session.scalars(sa.select(LoginFailure)
                                   .where(LoginFailure.email == user.email)):
        failure.at -= timedelta(seconds=seconds)
    session.commit()
