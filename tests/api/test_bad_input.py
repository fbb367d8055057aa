"""Bad input at every endpoint that moves value (and at the ones around them): always a
4xx with the error envelope, never a 5xx, and nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from lokaal_sparen.app import create_app
from loyalty.earning.claims import MAX_SALE_CENTS
from loyalty.models import (
    Claim,
    IdempotencyRecord,
    LedgerTransaction,
    Merchant,
    Posting,
    Redemption,
    Role,
    StaffSession,
    TillKey,
    Wallet,
)
from loyalty.spending.redemptions import MAX_POINTS
from tests.conftest import count
from tests.factories import (
    bearer,
    make_scheme,
    make_shop,
    make_user,
    make_wallet_token,
    staff_token,
)

JSON = "application/json"
WRITTEN = {
    "claims": Claim,
    "redemptions": Redemption,
    "ledger_transactions": LedgerTransaction,
    "postings": Posting,
    "idempotency_records": IdempotencyRecord,
    "merchants": Merchant,
    "till_keys": TillKey,
    "wallets": Wallet,
    "staff_sessions": StaffSession,
}


def snapshot(session: Session) -> dict[str, int]:
    """Row counts of every table a request could write. Ends the read at once: on
    SQLite an open transaction of this session holds the write lock."""
    counts = {name: count(session, sa.select(model)) for name, model in WRITTEN.items()}
    session.commit()
    return counts


def assert_client_error(response: TestResponse) -> dict[str, Any]:
    text = response.get_data(as_text=True)
    assert 400 <= response.status_code <= 499, f"{response.status_code}: {text[:500]}"
    assert response.mimetype == JSON, text[:500]
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, text[:500]
    error = body["error"]
    assert isinstance(error, dict), text[:500]
    assert isinstance(error.get("code"), str) and error["code"], text[:500]
    assert isinstance(error.get("message"), str) and error["message"], text[:500]
    assert set(error) <= {"code", "message", "fields"}, text[:500]
    return error


@dataclass
class World:
    """One scheme with a shop, a wallet holding points, an open claim and a held code."""

    headers: dict[str, dict[str, str]]
    values: dict[str, Any] = field(default_factory=dict)


def build_world(client: FlaskClient, session: Session) -> World:
    # A day to live for the claim and the hold: the table takes minutes on a slow machine.
    shop = make_shop(session, make_scheme(session, hold_ttl_seconds=86_400))
    wallet = bearer(make_wallet_token(session, shop.scheme))
    admin = bearer(staff_token(client, make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)))
    sale = client.post("/api/v1/claims", json={"amount_cents": 10_000}, headers=shop.headers)
    assert client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=wallet).status_code \
        == 200
    held = client.post("/api/v1/wallet/redemptions", json={"points": 30}, headers=wallet)
    assert held.status_code == 201
    open_claim = client.post("/api/v1/claims", json={"amount_cents": 2000, "ttl_seconds": 86_400},
                             headers=shop.headers)
    assert open_claim.status_code == 201
    return World(
        headers={"till": shop.headers, "wallet": wallet, "admin": admin, "nobody": {}},
        values={
            "claim": open_claim.json["token"],
            "code": held.json["code"],
            "merchant": shop.merchant.id,
            "slug": shop.scheme.slug,
        },
    )


@dataclass
class Table:
    """An app, its client and a session, with one world, shared by all cases of the table."""

    client: FlaskClient
    session: Session
    world: World


@pytest.fixture(scope="module")
def table(database_url: str) -> Iterator[Table]:
    """One app and one world for the whole table (an app per case costs more than the
    case; a world, two password hashes). Every case checks that it left the world as it
    found it, so the cases cannot leak into each other."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url,
                      "SECRET_KEY": "test-secret-key", "PUBLIC_URL": "https://sparen.example.be"})
    client = app.test_client()
    with app.extensions["loyalty.sessions"]() as session:
        yield Table(client, session, build_world(client, session))
    app.extensions["loyalty.engine"].dispose()


@dataclass(frozen=True)
class Case:
    """One bad request. ``body`` is sent as JSON; ``data`` raw (with ``content_type``)."""

    id: str
    method: str
    path: str
    who: str
    body: Any = ...
    data: str | bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    code: str | None = None  # the error code, where the contract or the app fixes one


TEN_KB = 10_240
LONG = "A" * TEN_KB
GARBAGE = "\u202e\u0000\ufeff\U0001f4a9\u0301\u200d\ud7ff\uffff"
GARBAGE_PATH = "%E2%80%AE%00%EF%BB%BF%F0%9F%92%A9%CC%81%ED%A0%80%FF"
IDEMPOTENCY_300 = (("Idempotency-Key", "k" * 300),)


def body_cases(path: str, who: str, field_: str, maximum: int) -> list[Case]:
    """Bad bodies for a POST whose one required field is an integer ``field_``."""
    name = path.rsplit("/", 1)[-1]
    bad_values: list[tuple[str, Any]] = [
        ("string-number", "12"),
        ("string-word", "twelve"),
        ("float", 12.5),
        ("whole-float", 1200.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ("huge", 10**30),
        ("huge-negative", -(10**30)),
        ("int64-overflow", 2**63),
        ("negative", -1200),
        ("zero", 0),
        ("above-maximum", maximum + 1),
        ("list", [1200]),
        ("object", {"value": 1200}),
        ("unicode", GARBAGE),
        ("empty-string", ""),
    ]
    cases = [
        Case(f"{name}-{label}", "POST", path, who, body={field_: value})
        for label, value in bad_values
    ]
    raw: list[tuple[str, str | bytes, str | None]] = [
        ("missing-body", "", None),
        ("empty-json-body", "", JSON),
        ("not-json", f"{field_}=1200", JSON),
        ("form-encoded", f"{field_}=1200", "application/x-www-form-urlencoded"),
        ("text-plain", json.dumps({field_: 1200}), "text/plain"),
        ("truncated-json", '{"' + field_ + '": 12', JSON),
        ("json-nan", '{"' + field_ + '": NaN}', JSON),
        ("json-infinity", '{"' + field_ + '": Infinity}', JSON),
        ("json-1e400", '{"' + field_ + '": 1e400}', JSON),
        ("json-exponent", '{"' + field_ + '": 1.2e3}', JSON),
        ("json-5000-digits", '{"' + field_ + '": 1' + "0" * 5000 + "}", JSON),
        ("json-deep-nesting", "[" * 100_000 + "]" * 100_000, JSON),
        ("json-lone-surrogate", '{"' + field_ + '": "\\ud800"}', JSON),
        ("json-surrogate-key", '{"\\udfff": 1}', JSON),
        ("json-duplicate-bad-last", '{"' + field_ + '": 1200, "' + field_ + '": -1}', JSON),
        ("invalid-utf8", b'{"' + field_.encode() + b'": "\xff\xfe"}', JSON),
        ("utf16-bom", json.dumps({field_: 1200}).encode("utf-16"), JSON),
        ("10kB-garbage", LONG, JSON),
    ]
    cases += [
        Case(f"{name}-{label}", "POST", path, who, data=data, content_type=ctype)
        for label, data, ctype in raw
    ]
    for label, value in [("array", [{field_: 1200}]), ("string", "1200"), ("number", 1200),
                         ("null-body", None), ("empty-object", {})]:
        cases.append(Case(f"{name}-{label}", "POST", path, who, body=value))
    cases += [
        Case(f"{name}-unknown-field", "POST", path, who, body={field_: 12, "extra": 1}),
        Case(f"{name}-unicode-field", "POST", path, who, body={field_: 12, GARBAGE: 1}),
        Case(f"{name}-idempotency-key-300", "POST", path, who, body={field_: 12},
             headers=IDEMPOTENCY_300, code="invalid_idempotency_key"),
        Case(f"{name}-idempotency-key-empty", "POST", path, who, body={field_: 12},
             headers=(("Idempotency-Key", ""),), code="invalid_idempotency_key"),
        Case(f"{name}-idempotency-key-control", "POST", path, who, body={field_: 12},
             headers=(("Idempotency-Key", "a\tb"),), code="invalid_idempotency_key"),
    ]
    return cases


def path_cases(template: str, who: str, placeholder: str, code: str | None) -> list[Case]:
    """Unknown, malformed and oversized path segments for a POST on ``template``."""
    name = template.replace("/api/v1/", "").replace("/{" + placeholder + "}", "")
    name = name.replace("/", "-")
    segments = [
        ("unknown", "Z" * 43 if placeholder == "claim" else "00000001"),
        ("letters", "abcdefgh"),
        ("10kB", LONG),
        ("10kB-digits", "1" * TEN_KB),
        ("unicode", GARBAGE_PATH),
        ("arabic-digits", "%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6%D9%A7%D9%A8"),
        ("nul", "%00"),
        ("dots", ".."),
    ]
    cases = [
        Case(f"{name}-{label}", "POST", template.replace("{" + placeholder + "}", segment), who,
             code=code if label in ("unknown", "letters") else None)
        for label, segment in segments
    ]
    cases.append(
        Case(f"{name}-idempotency-key-300", "POST", template, who, headers=IDEMPOTENCY_300,
             code="invalid_idempotency_key")
    )
    return cases


VALUE_MOVING: list[Case] = [
    *body_cases("/api/v1/claims", "till", "amount_cents", MAX_SALE_CENTS),
    Case("claims-sale-under-one-euro", "POST", "/api/v1/claims", "till",
         body={"amount_cents": 99}, code="no_points"),
    Case("claims-ttl-zero", "POST", "/api/v1/claims", "till",
         body={"amount_cents": 1200, "ttl_seconds": 0}),
    Case("claims-ttl-huge", "POST", "/api/v1/claims", "till",
         body={"amount_cents": 1200, "ttl_seconds": 10**30}),
    Case("claims-ttl-string", "POST", "/api/v1/claims", "till",
         body={"amount_cents": 1200, "ttl_seconds": "60"}),
    Case("claims-stamps-garbage", "POST", "/api/v1/claims", "till",
         body={"amount_cents": 1200, "stamps": "many"}),
    *body_cases("/api/v1/wallet/redemptions", "wallet", "points", MAX_POINTS),
    Case("redemptions-more-than-the-balance", "POST", "/api/v1/wallet/redemptions", "wallet",
         body={"points": 71}, code="insufficient_balance"),
    Case("redemptions-voucher-garbage", "POST", "/api/v1/wallet/redemptions", "wallet",
         body={"voucher_id": "x" * 300}),
    # Beyond any row id: a 422, not an overflow in the database (the fuzzer found it).
    Case("redemptions-voucher-huge", "POST", "/api/v1/wallet/redemptions", "wallet",
         body={"voucher_id": 48255383737081479699263887492775936}),
    Case("claims-stamp-card-huge", "POST", "/api/v1/claims", "till",
         body={"amount_cents": 1200, "stamps": 1, "stamp_card_id": 2**63}),
    *path_cases("/api/v1/claims/{claim}/claim", "wallet", "claim", "unknown_claim"),
    *path_cases("/api/v1/claims/{claim}/cancel", "till", "claim", "unknown_claim"),
    *path_cases("/api/v1/redemptions/{code}/confirm", "till", "code", "unknown_code"),
    *path_cases("/api/v1/wallet/redemptions/{code}/cancel", "wallet", "code", "unknown_code"),
]

AROUND: list[Case] = [
    # Shops and keys (municipality admin).
    Case("merchants-missing-body", "POST", "/api/v1/merchants", "admin", data="",
         content_type=JSON),
    Case("merchants-array", "POST", "/api/v1/merchants", "admin", body=[]),
    Case("merchants-nul-in-name", "POST", "/api/v1/merchants", "admin",
         body={"name": "a\u0000b", "sector": "47.24", "postcode": "9170", "email": "a@b.be"}),
    Case("merchants-surrogate-in-name", "POST", "/api/v1/merchants", "admin",
         data='{"name": "\\ud800", "sector": "47.24", "postcode": "9170", "email": "a@b.be"}',
         content_type=JSON),
    Case("merchants-newline-after-postcode", "POST", "/api/v1/merchants", "admin",
         body={"name": "x", "sector": "47.24", "postcode": "9170\n", "email": "a@b.be"}),
    Case("merchants-newline-after-sector", "POST", "/api/v1/merchants", "admin",
         body={"name": "x", "sector": "47.2\n", "postcode": "9170", "email": "a@b.be"}),
    Case("merchants-arabic-postcode", "POST", "/api/v1/merchants", "admin",
         body={"name": "x", "sector": "47.24", "postcode": "\u0669\u0661\u0667\u0660",
               "email": "a@b.be"}),
    Case("merchants-mixed-arabic-postcode", "POST", "/api/v1/merchants", "admin",
         body={"name": "x", "sector": "47.24", "postcode": "9\u0661\u0667\u0660",
               "email": "a@b.be"}),
    Case("merchants-10kB-name", "POST", "/api/v1/merchants", "admin",
         body={"name": LONG, "sector": "47.24", "postcode": "9170", "email": "a@b.be"}),
    Case("merchants-huge-earn-rate", "POST", "/api/v1/merchants", "admin",
         body={"name": "x", "sector": "47.24", "postcode": "9170", "email": "a@b.be",
               "earn_rate": 10**30}),
    Case("merchants-unknown-field", "POST", "/api/v1/merchants", "admin",
         body={"name": "x", "sector": "47.24", "postcode": "9170", "email": "a@b.be",
               "status": "approved", "scheme_id": 1}),
    Case("api-keys-shop-id-over-int32", "POST", "/api/v1/merchants/2147483648/api-keys",
         "admin", body={}),
    Case("api-keys-shop-id-over-int64", "POST",
         "/api/v1/merchants/9223372036854775808/api-keys", "admin", body={}),
    Case("api-keys-shop-id-30-digits", "POST", f"/api/v1/merchants/{10**30}/api-keys", "admin",
         body={}),
    Case("api-keys-negative-shop-id", "POST", "/api/v1/merchants/-1/api-keys", "admin", body={}),
    Case("api-keys-nul-in-label", "POST", "/api/v1/merchants/{merchant}/api-keys", "admin",
         body={"label": "kassa\u00001"}),
    Case("api-keys-surrogate-in-label", "POST", "/api/v1/merchants/{merchant}/api-keys",
         "admin", data='{"label": "\\udc00"}', content_type=JSON),
    Case("api-keys-10kB-label", "POST", "/api/v1/merchants/{merchant}/api-keys", "admin",
         body={"label": LONG}),
    Case("api-key-revoke-id-over-int32", "DELETE",
         "/api/v1/merchants/{merchant}/api-keys/2147483648", "admin"),
    Case("api-key-revoke-id-over-int64", "DELETE",
         "/api/v1/merchants/{merchant}/api-keys/99999999999999999999", "admin"),
    # Wallets and staff tokens (no auth).
    Case("wallets-nul-in-scheme", "POST", "/api/v1/wallets", "nobody",
         body={"scheme": "a\u0000b"}),
    Case("wallets-surrogate-in-scheme", "POST", "/api/v1/wallets", "nobody",
         data='{"scheme": "\\ud800"}', content_type=JSON),
    Case("wallets-10kB-scheme", "POST", "/api/v1/wallets", "nobody", body={"scheme": LONG}),
    Case("wallets-scheme-number", "POST", "/api/v1/wallets", "nobody", body={"scheme": 5}),
    Case("recover-nul", "POST", "/api/v1/wallets/recover", "nobody",
         body={"recovery_code": "\u0000" * 16}),
    Case("token-nul-in-email", "POST", "/api/v1/auth/token", "nobody",
         body={"email": "a\u0000@b.be", "password": "x" * 12}),
    Case("token-surrogate-in-email", "POST", "/api/v1/auth/token", "nobody",
         data='{"email": "\\ud800@b.be", "password": "xxxxxxxxxxxx"}', content_type=JSON),
    Case("token-surrogate-in-password", "POST", "/api/v1/auth/token", "nobody",
         data='{"email": "a@b.be", "password": "\\ud800"}', content_type=JSON),
    Case("token-10kB-password", "POST", "/api/v1/auth/token", "nobody",
         body={"email": "a@b.be", "password": LONG}),
    Case("merchants-list-nul-in-scheme", "GET", "/api/v1/merchants?scheme=a%00b", "nobody"),
    # The spending report.
    *[
        Case(f"spending-{label}", "GET", f"/api/v1/reports/spending?{query}", "admin", code=code)
        for label, query, code in [
            ("no-by", "", None),
            ("bad-by", "by=shoe_size", None),
            ("empty-by", "by=", None),
            ("sql-by", "by=sector%27%3B--", None),
            ("10kB-by", "by=" + LONG, None),
            ("bad-month", "by=sector&from=2026-13-01", None),
            ("bad-day", "by=sector&from=2026-02-30", None),
            ("not-a-date", "by=sector&to=yesterday", None),
            ("dutch-date", "by=sector&from=31/12/2026", None),
            ("five-digit-year", "by=sector&from=99999-01-01", None),
            ("nul-date", "by=sector&from=%00", None),
            ("from-after-to", "by=hour&from=2026-02-01&to=2026-01-31", "invalid_period"),
        ]
    ],
]


def _request(client: FlaskClient, world: World, case: Case) -> TestResponse:
    path = case.path.format(**world.values) if "{" in case.path else case.path
    kwargs: dict[str, Any] = {"headers": {**world.headers[case.who], **dict(case.headers)}}
    if case.body is not ...:
        kwargs["json"] = case.body
    elif case.data is not None:
        kwargs["data"] = case.data
        if case.content_type:
            kwargs["content_type"] = case.content_type
    return client.open(path, method=case.method, **kwargs)


@pytest.mark.parametrize("case", VALUE_MOVING + AROUND, ids=lambda c: c.id)
def test_bad_input_is_a_4xx_and_writes_nothing(table: Table, case: Case) -> None:
    client, session, world = table.client, table.session, table.world
    before = snapshot(session)
    error = assert_client_error(_request(client, world, case))
    if case.code is not None:
        assert error["code"] == case.code
    assert snapshot(session) == before
    # The open claim and the held code are untouched.
    status = client.get(f"/api/v1/claims/{world.values['claim']}", headers=world.headers["till"])
    assert status.json["status"] == "open"
    wallet = client.get("/api/v1/wallet", headers=world.headers["wallet"]).json
    assert (wallet["balance"], wallet["held_points"]) == (70, 30)


def test_every_value_moving_endpoint_is_in_the_table() -> None:
    moving = {
        ("POST", "/api/v1/claims"),
        ("POST", "/api/v1/claims/{claim}/claim"),
        ("POST", "/api/v1/claims/{claim}/cancel"),
        ("POST", "/api/v1/wallet/redemptions"),
        ("POST", "/api/v1/wallet/redemptions/{code}/cancel"),
        ("POST", "/api/v1/redemptions/{code}/confirm"),
    }
    covered = {(c.method, c.path) for c in VALUE_MOVING}
    assert moving <= covered


def test_the_cases_are_sound(client: FlaskClient, session: Session) -> None:
    """The good twins of the bad requests succeed, so each bad case fails for its badness."""
    world = build_world(client, session)
    till, wallet = world.headers["till"], world.headers["wallet"]
    ok = client.post("/api/v1/claims", json={"amount_cents": 1200}, headers=till)
    assert ok.status_code == 201
    keyed = client.post("/api/v1/claims", json={"amount_cents": 1200},
                        headers={**till, "Idempotency-Key": "k" * 255})
    assert keyed.status_code == 201
    assert client.post(f"/api/v1/claims/{ok.json['token']}/claim", headers=wallet).status_code \
        == 200
    code = client.post("/api/v1/wallet/redemptions", json={"points": 12}, headers=wallet)
    assert code.status_code == 201
    spaced = f"{code.json['code'][:4]} {code.json['code'][4:]}"
    assert client.post(f"/api/v1/redemptions/{spaced}/confirm", headers=till).status_code == 200
    assert client.post(f"/api/v1/claims/{keyed.json['token']}/cancel",
                       headers=till).status_code == 200
    admin = world.headers["admin"]
    shop = {"name": "x", "sector": "47.24", "postcode": "9170", "email": "a@b.be"}
    assert client.post("/api/v1/merchants", json=shop, headers=admin).status_code == 201
    report = client.get("/api/v1/reports/spending?by=hour&from=2026-01-31&to=2026-01-31",
                        headers=admin)
    assert report.status_code == 200


# --- a generic fuzz: whatever JSON arrives, never a 5xx -----------------------------------

# Integers where storage breaks (32- and 64-bit limits) come up often, not by luck.
INTEGERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 1, 99, 100, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**30, -(2**63)]),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INTEGERS,
    st.floats(),
    st.text(st.characters(exclude_categories=())),  # surrogates and NUL included
    st.sampled_from(["", "12", "1200", "0x10", "1e3", "NaN", "\u0000", "\u0669"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


def bodies(field_: str) -> st.SearchStrategy[Any]:
    """Any JSON value, objects with the right field and any value, near-misses."""
    return st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries({field_: JSON_VALUES}),
        st.fixed_dictionaries({field_: INTEGERS}),
        st.fixed_dictionaries({field_: INTEGERS}, optional={"ttl_seconds": JSON_VALUES}),
        st.dictionaries(
            st.one_of(st.sampled_from([field_, "ttl_seconds", "stamps", "voucher_id"]),
                      st.text(max_size=12)),
            JSON_VALUES,
            max_size=4,
        ),
    )


IDEMPOTENCY_KEYS = st.one_of(
    st.none(),
    st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=300),
)


@pytest.fixture
def fuzz_world(client: FlaskClient, session: Session) -> Iterator[World]:
    shop = make_shop(session)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    sale = client.post("/api/v1/claims", json={"amount_cents": 400_000}, headers=shop.headers)
    client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=wallet)
    yield World(headers={"till": shop.headers, "wallet": wallet})


def _check_fuzzed(response: TestResponse) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert_client_error(response)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies("amount_cents"), key=IDEMPOTENCY_KEYS)
@example(body={"amount_cents": 2**63}, key=None)  # past every integer column: always tried
@example(body={"amount_cents": 1200}, key="\x00")
def test_fuzz_claim_bodies_never_5xx(
    client: FlaskClient, fuzz_world: World, body: Any, key: str | None
) -> None:
    headers = dict(fuzz_world.headers["till"])
    if key is not None:
        headers["Idempotency-Key"] = key
    response = client.post("/api/v1/claims", json=body, headers=headers)
    _check_fuzzed(response)
    if response.status_code == 201:
        assert isinstance(body, dict) and type(body["amount_cents"]) is int
        assert 100 <= body["amount_cents"] <= MAX_SALE_CENTS


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies("points"), key=IDEMPOTENCY_KEYS)
@example(body={"points": 2**63}, key=None)
@example(body={"points": 10}, key="\x00")
def test_fuzz_redemption_bodies_never_5xx(
    client: FlaskClient, fuzz_world: World, body: Any, key: str | None
) -> None:
    headers = dict(fuzz_world.headers["wallet"])
    if key is not None:
        headers["Idempotency-Key"] = key
    response = client.post("/api/v1/wallet/redemptions", json=body, headers=headers)
    _check_fuzzed(response)
    if response.status_code == 201:
        assert isinstance(body, dict) and type(body["points"]) is int
        assert 1 <= body["points"] <= 4000


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_fuzz_raw_bytes_never_5xx(client: FlaskClient, fuzz_world: World, raw: bytes) -> None:
    for path, who in (("/api/v1/claims", "till"), ("/api/v1/wallet/redemptions", "wallet")):
        response = client.post(path, data=raw, content_type=JSON,
                               headers=fuzz_world.headers[who])
        _check_fuzzed(response)
