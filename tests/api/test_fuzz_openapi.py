"""A bounded, reproducible fuzz run of every operation of the served OpenAPI document
(schemathesis): valid and invalid input, with the right kind of token for each
operation, must never give a 5xx, and every answer must match what the document
says about it (status code, content type, body schema)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.conftest import FromAddress, LiveServer
from tests.factories import make_scheme, make_shop, make_user, make_wallet_token, staff_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Which kind of caller each operation is for, by the first part of its path.
WALLET_PATHS = ("/api/v1/wallet", "/api/v1/wallets")


@pytest.fixture
def api_schema(live_server: LiveServer) -> Any:
    """The document as `loyalty serve` serves it; the cases go to that server."""
    return schemathesis.openapi.from_url(live_server.api("/openapi.json"))


@pytest.fixture
def callers(client: FlaskClient, session: Session) -> dict[str, str]:
    """A token of each kind in a fresh scheme: a municipality admin, a till, a wallet."""
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    return {
        "staff": staff_token(client, admin),
        "till": shop.till_key,
        "wallet": make_wallet_token(session, scheme),
    }


def token_for(case: Any, callers: dict[str, str]) -> str:
    path: str = case.operation.path
    if path.startswith(WALLET_PATHS) or path.endswith("/claim"):  # collecting is a wallet's
        return callers["wallet"]
    if path.startswith(("/api/v1/claims", "/api/v1/redemptions")):
        return callers["till"]
    return callers["staff"]


# Per operation and generation mode (valid, then invalid input): enough cases to
# reach every branch of the input checks, few enough for CI. With 50 the run took
# 3 to 4.6 minutes per database on a 2-core machine, as the document grew to
# dozens of operations; 25 keeps both modes and every operation.
EXAMPLES = 25


def test_every_operation_answers_as_documented(
    api_schema: Any, callers: dict[str, str]
) -> None:
    failures: list[str] = []
    # From an address of its own: the generated sign-ins fail by the dozen, and
    # the login throttle must not count them against the other tests' address.
    http = requests.Session()
    http.mount("http://", FromAddress("127.0.0.3"))
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25  # the whole document, not a part of it
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,  # the same cases on every run: CI is reproducible
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                phases=[Phase.explicit, Phase.generate],  # report the first case found
            )
            def run(case: Any) -> None:
                # Each operation is called by the caller it is meant for (the
                # generator's own bearer values would only ever reach the 401),
                # so the input checks behind authentication are what gets fuzzed.
                token = token_for(case, callers)
                headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
                case.call_and_validate(headers=headers, checks=CHECKS, session=http)

            try:
                run()
            except Unsatisfiable:
                # Some operations take no input that could be invalid (a path
                # part that any string fits): nothing negative to try there.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as failure:  # noqa: BLE001  (gathered, then reported together)
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
