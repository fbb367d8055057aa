"""POST /api/v1/auth/token with two-factor sign-in: "otp" once enrolled; admins and
shop owners must enrol first; wrong codes count in the login throttle."""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.models import LoginFailure, Role
from tests.api.helpers import assert_error
from tests.conftest import count
from tests.factories import PASSWORD, make_scheme, make_shop, make_user, otp

_addresses = (f"203.0.113.{n}" for n in itertools.count(1))


def _token(client: FlaskClient, body: dict[str, Any], ip: str) -> Any:
    return client.post("/api/v1/auth/token", json=body, environ_base={"REMOTE_ADDR": ip})


def test_an_enrolled_user_sends_the_current_code(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    ip = next(_addresses)
    login = {"email": admin.email, "password": PASSWORD}

    missing = assert_error(_token(client, login, ip), 401, "otp_required")
    assert "otp" in missing["message"]
    code = otp(client.application, admin.id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert_error(_token(client, {**login, "otp": wrong}, ip), 401, "bad_otp")
    # A missing code is no guess; the wrong one is counted like a wrong password.
    assert count(session, sa.select(LoginFailure).where(LoginFailure.email == admin.email)) == 1

    ok = _token(client, {**login, "otp": code}, ip)
    assert ok.status_code == 201 and ok.json["token"].startswith("lst_")
    # The same code again, within its time step: refused.
    assert_error(_token(client, {**login, "otp": code}, ip), 401, "bad_otp")
    # And the wrong password with the right code is still the wrong password.
    assert_error(_token(client, {**login, "password": "nope-nope-nope",
                                 "otp": otp(client.application, admin.id)}, ip),
                 401, "bad_credentials")


def test_admins_and_owners_enrol_before_they_get_a_token(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    ip = next(_addresses)
    for role, merchant in ((Role.MUNICIPALITY_ADMIN, None), (Role.MERCHANT_OWNER, shop.merchant)):
        user = make_user(session, scheme, role, merchant, enrolled=False)
        refused = assert_error(
            _token(client, {"email": user.email, "password": PASSWORD}, ip),
            403, "totp_enrolment_required",
        )
        assert "two-factor" in refused["message"]
    # Analysts and cashiers without two-factor sign-in get a token with the password...
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    cashier = make_user(session, scheme, Role.CASHIER, shop.merchant)
    for user in (analyst, cashier):
        assert _token(client, {"email": user.email, "password": PASSWORD}, ip).status_code == 201
    # ...and once they enrolled, with the code.
    enrolled = make_user(session, scheme, Role.CASHIER, shop.merchant, enrolled=True)
    assert_error(_token(client, {"email": enrolled.email, "password": PASSWORD}, ip),
                 401, "otp_required")
    assert _token(client, {"email": enrolled.email, "password": PASSWORD,
                           "otp": otp(client.application, enrolled.id)}, ip).status_code == 201


def test_wrong_codes_slow_the_account_down(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    ip = next(_addresses)
    right = otp(client.application, admin.id)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    login = {"email": admin.email, "password": PASSWORD}
    for _ in range(staff.FREE_FAILURES_PER_ACCOUNT):
        assert_error(_token(client, {**login, "otp": wrong}, ip), 401, "bad_otp")
    locked = _token(client, {**login, "otp": right}, ip)
    assert_error(locked, 429, "too_many_attempts")


def test_the_openapi_document_describes_otp(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/auth/token"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert "otp" in schema["properties"] and "otp" not in schema.get("required", [])
    assert "6-digit" in schema["properties"]["otp"]["description"]
    assert {"401", "403", "429"} <= set(operation["responses"])
    assert "otp_required" in operation["responses"]["401"]["description"]
    assert "totp_enrolment_required" in operation["responses"]["403"]["description"]
