"""The OpenAPI document at /api/v1/openapi.json: valid, complete for the contract, and
true: real responses validate against the schemas it documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.analytics import release
from loyalty.models import Role
from tests.factories import bearer, make_scheme, make_shop, make_user, staff_token

PREFIX = "/api/v1"

# The main table of API-CONTRACT.md: method, path, request fields, status, response fields.
CONTRACT: list[tuple[str, str, set[str], str, set[str]]] = [
    ("post", "/merchants", {"name", "sector", "postcode", "email"}, "201", {"id", "status"}),
    ("get", "/merchants", set(), "200", {"id", "name", "sector", "postcode"}),
    ("post", "/merchants/{merchant_id}/api-keys", set(), "201", {"key"}),
    ("post", "/wallets", set(), "201", {"wallet_token", "recovery_code"}),
    ("post", "/auth/token", {"email", "password"}, "201", {"token"}),
    ("post", "/claims", {"amount_cents"}, "201",
     {"token", "url", "qr_svg_url", "points", "expires_at"}),
    ("get", "/claims/{token}", set(), "200", {"status", "points"}),
    ("post", "/claims/{token}/claim", set(), "200", {"points_credited", "balance"}),
    ("get", "/wallet", set(), "200", {"balance", "stamp_cards", "history"}),
    ("post", "/wallet/redemptions", {"points"}, "201", {"code", "qr_svg_url", "expires_at"}),
    ("post", "/redemptions/{code}/confirm", set(), "200", {"points", "discount_cents"}),
    ("get", "/reports/spending", set(), "200", {"rows", "k"}),
]
# Who may call each of them: everything but these needs a bearer token.
OPEN_TO_ANYONE = {("get", "/merchants"), ("post", "/wallets"), ("post", "/auth/token")}


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def deref(spec: dict[str, Any], node: Any) -> Any:
    """``node`` with every $ref replaced by what it points to (the schemas do not recurse)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return deref(spec, target)
        return {key: deref(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [deref(spec, value) for value in node]
    return node


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    paths = spec["paths"]
    assert PREFIX + path in paths, f"{PREFIX + path} is not documented"
    assert method in paths[PREFIX + path], f"{method.upper()} {path} is not documented"
    found: dict[str, Any] = deref(spec, paths[PREFIX + path][method])
    return found


def response_schema(spec: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    """The documented JSON schema of this answer: its own status, else the default."""
    responses = operation(spec, method, path)["responses"]
    documented = responses.get(str(status)) or responses.get("default")
    assert documented is not None, f"{method.upper()} {path} does not document {status}"
    assert "content" in documented, f"{method.upper()} {path} {status} documents no body"
    schema: dict[str, Any] = documented["content"]["application/json"]["schema"]
    return schema


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["version"] == "v1"


@pytest.mark.parametrize(
    ("method", "path", "request_fields", "status", "response_fields"),
    CONTRACT,
    ids=[f"{m.upper()} {p}" for m, p, *_ in CONTRACT],
)
def test_every_contract_endpoint_is_documented_with_its_fields(
    spec: dict[str, Any],
    method: str,
    path: str,
    request_fields: set[str],
    status: str,
    response_fields: set[str],
) -> None:
    op = operation(spec, method, path)
    if request_fields:
        body = op["requestBody"]["content"]["application/json"]["schema"]
        assert request_fields <= set(body["properties"])
        # Both fields or either (amount_cents, stamps) may be sent: required only where
        # the contract has no alternative.
        if path in ("/merchants", "/auth/token"):
            assert request_fields <= set(body.get("required", []))
    assert status in op["responses"], f"{method.upper()} {path}: no {status} documented"
    answer = op["responses"][status]["content"]["application/json"]["schema"]
    if answer.get("type") == "array":
        answer = answer["items"]
    assert response_fields <= set(answer["properties"])
    # What the contract promises is always there.
    assert response_fields <= set(answer.get("required", []))
    if (method, path) not in OPEN_TO_ANYONE:
        assert op.get("security") == [{"bearer": []}], f"{method.upper()} {path} shows no auth"
    # Errors are documented as they are sent: the contract's envelope.
    error = op["responses"]["default"]["content"]["application/json"]["schema"]
    assert {"code", "message"} <= set(error["properties"]["error"]["properties"])
    assert error["required"] == ["error"]


def test_the_contract_details_are_documented(spec: dict[str, Any]) -> None:
    claim_create = operation(spec, "post", "/claims")["requestBody"]["content"][
        "application/json"]["schema"]
    assert claim_create["properties"]["amount_cents"]["type"] == "integer"
    redeem = operation(spec, "post", "/wallet/redemptions")["requestBody"]["content"][
        "application/json"]["schema"]
    assert redeem["properties"]["points"]["type"] == "integer"

    status = response_schema(spec, "get", "/claims/{token}", 200)["properties"]["status"]
    assert set(status["enum"]) == {"open", "claimed", "expired", "cancelled"}

    created = response_schema(spec, "post", "/claims", 201)["properties"]
    assert created["expires_at"]["format"] == "date-time"

    params = {p["name"]: p for p in operation(spec, "get", "/reports/spending")["parameters"]}
    assert params["by"]["in"] == "query" and params["by"]["required"] is True
    assert set(params["by"]["schema"]["enum"]) == {
        "sector", "merchant", "postcode", "hour", "weekday"
    }
    assert params["from"]["schema"]["format"] == "date"
    assert params["to"]["schema"]["format"] == "date"

    row = response_schema(spec, "get", "/reports/spending", 200)["properties"]["rows"]["items"]
    assert {"key", "purchases", "amount_cents", "shoppers", "suppressed"} <= set(
        row["properties"]
    )
    # A suppressed row carries null figures.
    for figure in ("purchases", "amount_cents", "shoppers"):
        assert row["properties"][figure].get("nullable") is True

    # Amounts are integer cents everywhere they appear.
    confirm = response_schema(spec, "post", "/redemptions/{code}/confirm", 200)
    assert confirm["properties"]["discount_cents"]["type"] == "integer"


def check(spec: dict[str, Any], method: str, path: str, response: TestResponse) -> None:
    """The live answer validates against the schema the document gives for its status."""
    schema = response_schema(spec, method, path, response.status_code)
    OAS30Validator(schema, format_checker=oas30_format_checker).validate(response.get_json())


def test_live_responses_validate_against_the_document(
    client: FlaskClient, session: Session, spec: dict[str, Any]
) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme, name="Bakkerij De Smet")
    make_shop(session, scheme, name="Slagerij Van Hoeylandt")
    admin = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ADMIN)))

    listed = client.get(f"{PREFIX}/merchants?scheme={scheme.slug}")
    assert listed.status_code == 200 and len(listed.json) == 2
    check(spec, "get", "/merchants", listed)

    wallet_made = client.post(f"{PREFIX}/wallets", json={"scheme": scheme.slug})
    check(spec, "post", "/wallets", wallet_made)
    wallet = bearer(wallet_made.json["wallet_token"])

    created = client.post(f"{PREFIX}/claims", json={"amount_cents": 2350}, headers=shop.headers)
    assert created.status_code == 201
    check(spec, "post", "/claims", created)
    token = created.json["token"]
    polled = client.get(f"{PREFIX}/claims/{token}", headers=shop.headers)
    check(spec, "get", "/claims/{token}", polled)

    collected = client.post(f"{PREFIX}/claims/{token}/claim", headers=wallet)
    assert collected.status_code == 200
    check(spec, "post", "/claims/{token}/claim", collected)

    hold = client.post(f"{PREFIX}/wallet/redemptions", json={"points": 20}, headers=wallet)
    assert hold.status_code == 201
    check(spec, "post", "/wallet/redemptions", hold)
    confirmed = client.post(f"{PREFIX}/redemptions/{hold.json['code']}/confirm",
                            headers=shop.headers)
    assert confirmed.status_code == 200
    check(spec, "post", "/redemptions/{code}/confirm", confirmed)

    view = client.get(f"{PREFIX}/wallet", headers=wallet)
    assert view.status_code == 200 and len(view.json["history"]) == 2
    check(spec, "get", "/wallet", view)

    # The nightly release, as it will run once today has closed.
    release.release(session, scheme, datetime.now(UTC) + timedelta(days=2))
    session.commit()
    report = client.get(f"{PREFIX}/reports/spending?by=sector", headers=admin)
    assert report.status_code == 200 and report.json["rows"]
    assert report.json["rows"][0]["suppressed"] is True  # one shop: the three-shop rule
    check(spec, "get", "/reports/spending", report)

    # Error answers validate too: each against the schema documented for its status.
    errors = [
        ("post", "/claims", client.post(f"{PREFIX}/claims", json={"amount_cents": "12"},
                                        headers=shop.headers), 422),
        ("post", "/claims", client.post(f"{PREFIX}/claims", data="{", content_type=
                                        "application/json", headers=shop.headers), 400),
        ("get", "/wallet", client.get(f"{PREFIX}/wallet"), 401),
        ("get", "/wallet", client.get(f"{PREFIX}/wallet", headers=shop.headers), 403),
        ("post", "/claims/{token}/claim",
         client.post(f"{PREFIX}/claims/{token}/claim", headers=wallet), 409),
        ("post", "/wallet/redemptions",
         client.post(f"{PREFIX}/wallet/redemptions", json={"points": 10_000}, headers=wallet),
         409),
        ("post", "/redemptions/{code}/confirm",
         client.post(f"{PREFIX}/redemptions/{hold.json['code']}/confirm", headers=shop.headers),
         409),
        ("get", "/claims/{token}", client.get(f"{PREFIX}/claims/nope", headers=shop.headers),
         404),
        ("get", "/reports/spending",
         client.get(f"{PREFIX}/reports/spending?by=sector&from=2026-02-01&to=2026-01-01",
                    headers=admin), 422),
    ]
    for method, path, response, status in errors:
        assert response.status_code == status, (path, response.json)
        check(spec, method, path, response)


def test_the_validation_is_not_vacuous(spec: dict[str, Any]) -> None:
    """A body that breaks the documented schema is caught, so the checks above can fail."""
    schema = response_schema(spec, "post", "/claims", 201)
    validator = OAS30Validator(schema, format_checker=oas30_format_checker)
    good = {"token": "t", "url": "u", "qr_svg_url": "q", "points": 1,
            "expires_at": "2026-11-27T17:00:00+00:00"}
    validator.validate(good)
    for bad in (
        {**good, "points": "1"},
        {**good, "expires_at": "tomorrow"},
        {key: value for key, value in good.items() if key != "token"},
    ):
        assert not validator.is_valid(bad), bad
    error = response_schema(spec, "get", "/wallet", 401)
    error_validator = OAS30Validator(error, format_checker=oas30_format_checker)
    assert error_validator.is_valid({"error": {"code": "x", "message": "y"}})
    assert not error_validator.is_valid({"code": 401, "status": "Unauthorized"})
