"""The fast lane (loyalty.api.fast_lane): a sale and a scan answered without Flask,
exactly as Flask would answer them; everything else handed to Flask untouched."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.test import Client

from loyalty import create_app
from loyalty.api.fast_lane import FastLane
from loyalty.models import Claim, ClaimStatus, LedgerTransaction, PurchaseEvent
from tests.factories import bearer, make_scheme, make_shop

CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "PUBLIC_URL": "https://sparen.example.be",
}


@dataclass
class FullStack:
    """Stands where the Flask app stands behind the lane and remembers what reached it."""

    app: Flask
    calls: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.calls.append((environ["PATH_INFO"], body))
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app.wsgi_app.full_stack(environ, start_response)  # type: ignore[attr-defined]


@pytest.fixture
def lane(app: Flask) -> tuple[Client, FullStack]:
    """A client of a lane whose full stack is the app's, behind a recorder."""
    full = FullStack(app)
    return Client(FastLane(app, full)), full


@pytest.fixture
def shop(session: Session) -> Any:
    scheme = make_scheme(session)
    return make_shop(session, scheme, name="Bakkerij De Smet")


def _wallet(client: Client, shop: Any) -> dict[str, str]:
    made = client.post("/api/v1/wallets", json={"scheme": shop.merchant.scheme.slug})
    assert made.status_code == 201
    return bearer(made.json["wallet_token"])


def test_the_lane_answers_a_sale_and_a_scan_by_itself(
    lane: tuple[Client, FullStack], shop: Any, session: Session, verify_ledger: Any
) -> None:
    client, full = lane
    shopper = _wallet(client, shop)
    full.calls.clear()

    created = client.post("/api/v1/claims", json={"amount_cents": 2350}, headers=shop.headers)
    assert created.status_code == 201
    token = created.json["token"]
    collected = client.post(f"/api/v1/claims/{token}/claim", headers=shopper)
    assert collected.status_code == 200
    assert collected.json == {
        "points_credited": 23, "balance": 23, "merchant": "Bakkerij De Smet",
        "stamps_credited": 0, "vouchers_created": 0,
    }
    assert full.calls == []  # Flask never saw them

    # Committed, whole: the claim, its ledger transaction and the purchase event.
    session.rollback()
    claim = session.scalars(sa.select(Claim).where(Claim.merchant_id == shop.merchant.id)).one()
    assert claim.status == ClaimStatus.CLAIMED and claim.transaction_id is not None
    assert session.get(LedgerTransaction, claim.transaction_id) is not None
    events = session.scalars(
        sa.select(PurchaseEvent).where(PurchaseEvent.merchant_id == shop.merchant.id)
    ).all()
    assert [e.amount_cents for e in events] == [2350]
    verify_ledger()


@pytest.mark.parametrize("public_url", ["https://sparen.example.be", ""])
def test_the_lane_answers_as_flask_does(
    database_url: str, session: Session, shop: Any, public_url: str
) -> None:
    config = {**CONFIG, "DATABASE_URL": database_url, "PUBLIC_URL": public_url}
    with_lane = create_app(config)
    without = create_app({**config, "FAST_LANE": False})
    assert isinstance(with_lane.wsgi_app, FastLane)
    assert not isinstance(without.wsgi_app, FastLane)
    try:
        answers = []
        for app in (with_lane, without):
            client = app.test_client()
            shopper = _wallet(client, shop)  # type: ignore[arg-type]
            created = client.post("/api/v1/claims", headers=shop.headers,
                                  json={"amount_cents": 1999, "ttl_seconds": 120})
            token = created.json["token"]
            collected = client.post(f"/api/v1/claims/{token}/claim", headers=shopper)
            answers.append((created, collected, token))
        (lane_created, lane_collected, lane_token), (flask_created, flask_collected, _) = answers

        for ours, theirs in ((lane_created, flask_created), (lane_collected, flask_collected)):
            assert ours.status == theirs.status
            # Flask-Login touches the cookie session after every Flask answer,
            # so Flask adds "Vary: Cookie"; the lane reads no cookie and says so.
            assert "Vary" not in ours.headers
            names = sorted(set(theirs.headers.keys()) - {"Vary"})
            assert sorted(ours.headers.keys()) == names
            for name in names:
                if name != "Content-Length":
                    assert ours.headers[name] == theirs.headers[name], name
            assert list(ours.json) == list(theirs.json)  # same keys, same order
        assert lane_collected.data == flask_collected.data
        base = public_url or "http://localhost"  # else the host the call came in on
        assert lane_created.json["url"] == f"{base}/c/{lane_token}"
        assert flask_created.json["url"].startswith(f"{base}/c/")
        assert lane_created.json["qr_svg_url"].endswith(f"/api/v1/claims/{lane_token}/qr.svg")
        for key in ("points", "stamps", "amount_cents"):
            assert lane_created.json[key] == flask_created.json[key]
        # The same JSON writer: compact, keys sorted, a newline at the end.
        created_data = json.loads(lane_created.data)
        assert lane_created.data == (
            json.dumps(created_data, separators=(",", ":"), sort_keys=True) + "\n"
        ).encode()
    finally:
        for app in (with_lane, without):
            app.extensions["loyalty.engine"].dispose()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no token", 401),
        ("unknown till key", 401),
        ("wallet token on a sale", 403),
        ("negative amount", 422),
        ("unknown field", 422),
        ("not JSON", 400),
        ("text body", 200),  # webargs reads a non-JSON body as no arguments: stamps only
        ("escaped JSON", 422),
        ("query string", 201),
        ("idempotency key", 201),
    ],
)
def test_the_lane_hands_other_sales_to_flask(
    lane: tuple[Client, FullStack], shop: Any, session: Session, case: str, status: int
) -> None:
    client, full = lane
    shopper = _wallet(client, shop)
    full.calls.clear()
    headers = dict(shop.headers)
    data: bytes = b'{"amount_cents": 500}'
    path = "/api/v1/claims"
    if case == "no token":
        headers.pop("Authorization")
    elif case == "unknown till key":
        headers["Authorization"] = "Bearer lsk_forged"
    elif case == "wallet token on a sale":
        headers.update(shopper)
    elif case == "negative amount":
        data = b'{"amount_cents": -5}'
    elif case == "unknown field":
        data = b'{"amount_cents": 500, "discount": 1}'
    elif case == "not JSON":
        data = b'{"amount_cents": '
    elif case == "text body":
        status = 422  # no points and no stamps: nothing to give
    elif case == "escaped JSON":
        data = b'{"amount_cents": 500, "stamp_card_id": "\\u0000"}'
    elif case == "query string":
        path += "?lang=nl"
    elif case == "idempotency key":
        headers["Idempotency-Key"] = "sale-1"
    content_type = "text/plain" if case == "text body" else "application/json"

    answer = client.post(path, data=data, headers=headers, content_type=content_type)

    assert answer.status_code == status, answer.json
    if status >= 400:
        assert set(answer.json["error"]) >= {"code", "message"}
    # Flask got the call with its body intact.
    assert full.calls == [("/api/v1/claims", data)]
    session.rollback()
    made = session.scalar(sa.select(sa.func.count()).select_from(Claim)
                          .where(Claim.merchant_id == shop.merchant.id))
    assert made == (1 if status == 201 else 0)  # the lane wrote nothing of its own


def test_the_lane_hands_refused_scans_to_flask_and_keeps_nothing(
    lane: tuple[Client, FullStack], shop: Any, session: Session, verify_ledger: Any
) -> None:
    client, full = lane
    first, second = _wallet(client, shop), _wallet(client, shop)
    token = client.post("/api/v1/claims", json={"amount_cents": 1000},
                        headers=shop.headers).json["token"]
    assert client.post(f"/api/v1/claims/{token}/claim", headers=first).status_code == 200
    full.calls.clear()

    again = client.post(f"/api/v1/claims/{token}/claim", headers=second)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "already_claimed"
    unknown = client.post("/api/v1/claims/NoSuchClaimToken123/claim", headers=second)
    assert unknown.status_code == 404
    odd = client.post("/api/v1/claims/a%20b/claim", headers=second)
    assert odd.status_code == 404
    with_body = client.post(f"/api/v1/claims/{token}/claim", headers=second, json={"x": 1})
    assert with_body.status_code == 409
    assert [path for path, _body in full.calls] == [
        f"/api/v1/claims/{token}/claim",
        "/api/v1/claims/NoSuchClaimToken123/claim",
        "/api/v1/claims/a b/claim",
        f"/api/v1/claims/{token}/claim",
    ]
    balance = client.get("/api/v1/wallet", headers=second).json["balance"]
    assert balance == 0
    verify_ledger()


def test_a_broken_connection_is_dropped_and_the_sale_still_made(
    lane: tuple[Client, FullStack], shop: Any, session: Session, app: Flask
) -> None:
    client, full = lane
    sale = {"amount_cents": 700}
    assert client.post("/api/v1/claims", json=sale, headers=shop.headers).status_code == 201
    lane_app = client.application
    assert isinstance(lane_app, FastLane) and len(lane_app.idle) == 1
    # The kept connection breaks underneath (a database restart, say).
    kept = lane_app.idle[0].bind
    assert isinstance(kept, sa.Connection)
    kept.connection.driver_connection.close()  # type: ignore[union-attr]
    full.calls.clear()

    answer = client.post("/api/v1/claims", json=sale, headers=shop.headers)
    assert answer.status_code == 201  # Flask made it
    assert len(full.calls) == 1
    assert client.post("/api/v1/claims", json=sale, headers=shop.headers).status_code == 201
    assert len(full.calls) == 1  # and the lane serves again, on a new connection
    session.rollback()
    made = session.scalar(sa.select(sa.func.count()).select_from(Claim)
                          .where(Claim.merchant_id == shop.merchant.id))
    assert made == 3

    # Disposing of the engine closes the lane's kept connections too (the test's
    # own session gives its connection back first, or the old pool would keep it).
    session.rollback()
    app.extensions["loyalty.engine"].dispose()
    assert lane_app.idle == []
