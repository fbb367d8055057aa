"""Password guessing is slowed down in the database, across every worker."""

from __future__ import annotations

import itertools

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.factories import PASSWORD, make_scheme, make_user, otp

# Each test guesses from its own address, so the per-address limit (50 failures)
# is not reached by the sum of all tests that type a wrong password.
_addresses = (f"192.0.2.{n}" for n in itertools.count(1))


def _as(address: str) -> dict[str, dict[str, str]]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_ten_wrong_passwords_lock_the_address(client: FlaskClient, session: Session) -> None:
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    ip = _as(next(_addresses))
    for _ in range(10):
        wrong = client.post(
            "/api/v1/auth/token", json={"email": user.email, "password": "nope"}, **ip
        )
        assert wrong.status_code == 401
    locked = client.post(
        "/api/v1/auth/token",
        json={"email": user.email, "password": PASSWORD, "otp": otp(client.application, user.id)},
        **ip,
    )
    assert locked.status_code == 429
    assert locked.json["error"]["code"] == "too_many_attempts"
    # Another user from the same address can still sign in.
    other = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    ok = client.post(
        "/api/v1/auth/token",
        json={"email": other.email, "password": PASSWORD, "otp": otp(client.application, other.id)},
        **ip,
    )
    assert ok.status_code == 201


def test_fifty_failures_from_one_address_lock_it(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    ip = _as(next(_addresses))
    for n in range(50):
        client.post(
            "/api/v1/auth/token", json={"email": f"guess{n}@example.be", "password": "x"}, **ip
        )
    user = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    locked = client.post(
        "/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}, **ip
    )
    assert locked.status_code == 429
    elsewhere = client.post(
        "/api/v1/auth/token",
        json={"email": user.email, "password": PASSWORD, "otp": otp(client.application, user.id)},
        **_as(next(_addresses)),
    )
    assert elsewhere.status_code == 201


def test_nine_wrong_passwords_do_not_lock(client: FlaskClient, session: Session) -> None:
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    ip = _as(next(_addresses))
    for _ in range(9):
        client.post("/api/v1/auth/token", json={"email": user.email, "password": "nope"}, **ip)
    ok = client.post(
        "/api/v1/auth/token",
        json={"email": user.email, "password": PASSWORD, "otp": otp(client.application, user.id)},
        **ip,
    )
    assert ok.status_code == 201
