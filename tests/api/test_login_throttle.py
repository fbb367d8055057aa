"""Password guessing is slowed down in the database, across every worker: per
account by a doubling delay (nobody can lock an account), per client address by a
hard limit. (Through a real reverse proxy: tests/api/test_throttle_behind_proxy.py.)"""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.access import staff
from loyalty.models import LoginFailure, Role, StaffUser
from tests.api.helpers import assert_error, wait_after_failures
from tests.factories import PASSWORD, make_scheme, make_user, otp

# Each test guesses from addresses of its own, so the per-address limit is not
# reached by the sum of all tests that type a wrong password.
_addresses = (f"192.0.2.{n}" for n in itertools.count(1))


def _token(client: FlaskClient, user: StaffUser | str, password: str, address: str) -> TestResponse:
    body: dict[str, Any] = {"email": user if isinstance(user, str) else user.email,
                            "password": password}
    if isinstance(user, StaffUser) and password == PASSWORD:
        body["otp"] = otp(client.application, user.id)
    return client.post("/api/v1/auth/token", json=body,
                       environ_base={"REMOTE_ADDR": address})




def _failures(session: Session, user: StaffUser) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)
                          .where(LoginFailure.email == user.email)) or 0


def test_five_wrong_passwords_then_the_account_waits_wherever_it_signs_in(
    client: FlaskClient, session: Session
) -> None:
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    for _ in range(staff.FREE_FAILURES_PER_ACCOUNT):
        assert_error(_token(client, user, "nope", next(_addresses)), 401, "bad_credentials")
    # The right password, from yet another address, must wait the first delay.
    waiting = _token(client, user, PASSWORD, next(_addresses))
    assert_error(waiting, 429, "too_many_attempts")
    assert 1 <= int(waiting.headers["Retry-After"]) <= 5
    wait_after_failures(session, user, 5)
    assert _token(client, user, PASSWORD, next(_addresses)).status_code == 201


def test_the_delay_doubles_up_to_a_minute(client: FlaskClient, session: Session) -> None:
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    for _ in range(staff.FREE_FAILURES_PER_ACCOUNT):
        _token(client, user, "nope", next(_addresses))
    delays = []
    for _ in range(6):
        waiting = _token(client, user, "nope", next(_addresses))
        assert_error(waiting, 429, "too_many_attempts")
        delays.append(int(waiting.headers["Retry-After"]))
        wait_after_failures(session, user, delays[-1])
        assert_error(_token(client, user, "nope", next(_addresses)), 401, "bad_credentials")
    assert delays == [5, 10, 20, 40, 60, 60]


def test_refused_tries_are_no_failures(client: FlaskClient, session: Session) -> None:
    """Hammering during the delay neither counts nor lengthens it."""
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    for _ in range(staff.FREE_FAILURES_PER_ACCOUNT):
        _token(client, user, "nope", next(_addresses))
    for _ in range(20):
        assert_error(_token(client, user, "nope", next(_addresses)), 429)
    assert _failures(session, user) == staff.FREE_FAILURES_PER_ACCOUNT
    wait_after_failures(session, user, 5)
    assert _token(client, user, PASSWORD, next(_addresses)).status_code == 201


def test_four_wrong_passwords_do_not_slow_down(client: FlaskClient, session: Session) -> None:
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    address = next(_addresses)
    for _ in range(staff.FREE_FAILURES_PER_ACCOUNT - 1):
        _token(client, user, "nope", address)
    assert _token(client, user, PASSWORD, address).status_code == 201


def test_many_failures_from_one_address_close_it_for_every_account(
    client: FlaskClient, session: Session
) -> None:
    address = next(_addresses)
    for n in range(staff.MAX_FAILURES_PER_IP):
        assert_error(_token(client, f"guess{n}@example.be", "x", address), 401)
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    closed = _token(client, user, PASSWORD, address)
    assert_error(closed, 429, "too_many_attempts")
    assert 14 * 60 < int(closed.headers["Retry-After"]) <= 15 * 60
    # The account itself is not slowed down: its holder signs in from elsewhere.
    assert _token(client, user, PASSWORD, next(_addresses)).status_code == 201
