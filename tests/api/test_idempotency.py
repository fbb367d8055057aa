"""Idempotency-Key on the value-moving POSTs, one request after another (the racing
retries are tests/race's business): a retry answers the first answer and moves nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.models import (
    Claim,
    IdempotencyRecord,
    LedgerTransaction,
    Redemption,
    RedemptionStatus,
)
from tests.conftest import count
from tests.factories import Shop, bearer, make_shop, make_wallet_token

KEY = "Idempotency-Key"


def rows(session: Session, stmt: sa.Select[Any]) -> int:
    """Count, then end the read at once (on SQLite it would hold the write lock)."""
    n = count(session, stmt)
    session.commit()
    return n


def same_answer(first: TestResponse, again: TestResponse) -> None:
    assert again.status_code == first.status_code
    assert again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, KEY: key}


def funded_wallet(client: FlaskClient, session: Session, shop: Shop, cents: int) -> dict[str, str]:
    """A wallet of the shop's scheme with the points of one sale of ``cents``."""
    wallet = bearer(make_wallet_token(session, shop.scheme))
    sale = client.post("/api/v1/claims", json={"amount_cents": cents}, headers=shop.headers)
    collected = client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=wallet)
    assert collected.status_code == 200
    return wallet


def test_a_retried_claim_creation_makes_one_claim(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    headers = keyed(shop.headers, "sale-0001")
    first = client.post("/api/v1/claims", json={"amount_cents": 2350}, headers=headers)
    assert first.status_code == 201
    for _ in range(3):
        same_answer(first, client.post("/api/v1/claims", json={"amount_cents": 2350},
                                       headers=headers))
    assert rows(session, sa.select(Claim.id).where(Claim.merchant_id == shop.merchant.id)) == 1
    # The replayed token is the real one: the claim can be polled and collected.
    status = client.get(f"/api/v1/claims/{first.json['token']}", headers=shop.headers)
    assert status.json["status"] == "open" and status.json["points"] == 23

    # A new key is a new sale; no key at all is a new sale every time.
    other = client.post("/api/v1/claims", json={"amount_cents": 2350},
                        headers=keyed(shop.headers, "sale-0002"))
    assert other.status_code == 201 and other.json["token"] != first.json["token"]
    client.post("/api/v1/claims", json={"amount_cents": 2350}, headers=shop.headers)
    client.post("/api/v1/claims", json={"amount_cents": 2350}, headers=shop.headers)
    assert rows(session, sa.select(Claim.id).where(Claim.merchant_id == shop.merchant.id)) == 4


def test_a_retried_collect_answers_200_and_credits_once(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    claim = client.post("/api/v1/claims", json={"amount_cents": 4199}, headers=shop.headers)
    path = f"/api/v1/claims/{claim.json['token']}/claim"

    first = client.post(path, headers=keyed(wallet, "collect-1"))
    assert first.status_code == 200
    assert first.json["points_credited"] == 41 and first.json["balance"] == 41
    again = client.post(path, headers=keyed(wallet, "collect-1"))
    same_answer(first, again)  # the lost answer again, not 409 already_claimed
    assert client.get("/api/v1/wallet", headers=wallet).json["balance"] == 41
    earns = sa.select(LedgerTransaction.id).where(
        LedgerTransaction.scheme_id == shop.scheme.id, LedgerTransaction.kind == "earn"
    )
    assert rows(session, earns) == 1

    # Without the key (or with another one) the retry is a second attempt: 409.
    assert client.post(path, headers=wallet).status_code == 409
    assert client.post(path, headers=keyed(wallet, "collect-2")).status_code == 409
    assert client.get("/api/v1/wallet", headers=wallet).json["balance"] == 41


def test_a_retried_redemption_returns_the_same_code_and_holds_once(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    wallet = funded_wallet(client, session, shop, 10_000)
    headers = keyed(wallet, "spend-40")
    first = client.post("/api/v1/wallet/redemptions", json={"points": 40}, headers=headers)
    assert first.status_code == 201
    again = client.post("/api/v1/wallet/redemptions", json={"points": 40}, headers=headers)
    same_answer(first, again)
    assert again.json["code"] == first.json["code"]

    view = client.get("/api/v1/wallet", headers=wallet).json
    assert (view["balance"], view["held_points"]) == (60, 40)
    assert [h["code"] for h in view["holds"]] == [first.json["code"]]
    held = sa.select(Redemption.id).where(Redemption.scheme_id == shop.scheme.id)
    assert rows(session, held) == 1


def test_a_retried_confirm_answers_the_first_200(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    wallet = funded_wallet(client, session, shop, 10_000)
    code = client.post("/api/v1/wallet/redemptions", json={"points": 40}, headers=wallet)
    path = f"/api/v1/redemptions/{code.json['code']}/confirm"

    first = client.post(path, headers=keyed(shop.headers, "till-7-confirm"))
    assert first.status_code == 200
    assert (first.json["points"], first.json["discount_cents"]) == (40, 200)
    same_answer(first, client.post(path, headers=keyed(shop.headers, "till-7-confirm")))
    redeems = sa.select(LedgerTransaction.id).where(
        LedgerTransaction.scheme_id == shop.scheme.id, LedgerTransaction.kind == "redeem"
    )
    assert rows(session, redeems) == 1
    confirmed = sa.select(Redemption.id).where(
        Redemption.scheme_id == shop.scheme.id, Redemption.status == RedemptionStatus.CONFIRMED
    )
    assert rows(session, confirmed) == 1
    # Without the key, the retry is told the truth: already used.
    assert client.post(path, headers=shop.headers).status_code == 409


def test_the_same_key_with_another_body_is_refused(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    headers = keyed(shop.headers, "sale-42")
    first = client.post("/api/v1/claims", json={"amount_cents": 1000}, headers=headers)
    assert first.status_code == 201

    changed = client.post("/api/v1/claims", json={"amount_cents": 100_000}, headers=headers)
    assert changed.status_code == 422
    assert changed.json["error"]["code"] == "idempotency_key_reused"
    assert set(changed.json) == {"error"} and changed.json["error"]["message"]
    # The same key on another endpoint of the same caller is another request too.
    other_path = client.post(f"/api/v1/claims/{first.json['token']}/cancel", headers=headers)
    assert other_path.status_code == 422
    assert other_path.json["error"]["code"] == "idempotency_key_reused"

    assert rows(session, sa.select(Claim.id).where(Claim.merchant_id == shop.merchant.id)) == 1
    status = client.get(f"/api/v1/claims/{first.json['token']}", headers=shop.headers)
    assert status.json["status"] == "open"
    # The original request still replays.
    same_answer(first, client.post("/api/v1/claims", json={"amount_cents": 1000},
                                   headers=headers))


def test_the_same_key_of_another_caller_is_independent(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    anna = funded_wallet(client, session, shop, 5000)
    bert = funded_wallet(client, session, shop, 5000)
    a = client.post("/api/v1/wallet/redemptions", json={"points": 20}, headers=keyed(anna, "1"))
    b = client.post("/api/v1/wallet/redemptions", json={"points": 20}, headers=keyed(bert, "1"))
    assert a.status_code == b.status_code == 201
    assert b.headers.get("Idempotent-Replayed") is None
    assert a.json["code"] != b.json["code"]
    for wallet in (anna, bert):
        view = client.get("/api/v1/wallet", headers=wallet).json
        assert (view["balance"], view["held_points"]) == (30, 20)

    # Two tills of two shops using the same key make two claims.
    other = make_shop(session, shop.scheme)
    one = client.post("/api/v1/claims", json={"amount_cents": 1500},
                      headers=keyed(shop.headers, "1"))
    two = client.post("/api/v1/claims", json={"amount_cents": 1500},
                      headers=keyed(other.headers, "1"))
    assert one.status_code == two.status_code == 201
    assert one.json["token"] != two.json["token"]


def test_a_failed_request_is_not_stored(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    headers = keyed(wallet, "spend-50")
    scope = sa.select(IdempotencyRecord.id).where(IdempotencyRecord.key == "spend-50")
    records_before = rows(session, scope)

    poor = client.post("/api/v1/wallet/redemptions", json={"points": 50}, headers=headers)
    assert poor.status_code == 409
    assert poor.json["error"]["code"] == "insufficient_balance"
    # Asking again before anything changed fails again, for real (no stored 409).
    again = client.post("/api/v1/wallet/redemptions", json={"points": 50}, headers=headers)
    assert again.status_code == 409 and again.headers.get("Idempotent-Replayed") is None
    assert rows(session, scope) == records_before

    # The cause goes away (the shopper earns points), and the same key now succeeds ...
    sale = client.post("/api/v1/claims", json={"amount_cents": 6000}, headers=shop.headers)
    client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=wallet)
    ok = client.post("/api/v1/wallet/redemptions", json={"points": 50}, headers=headers)
    assert ok.status_code == 201 and ok.headers.get("Idempotent-Replayed") is None
    # ... once: from then on it replays.
    same_answer(ok, client.post("/api/v1/wallet/redemptions", json={"points": 50},
                                headers=headers))
    view = client.get("/api/v1/wallet", headers=wallet).json
    assert (view["balance"], view["held_points"]) == (10, 50)


def test_a_rejected_body_is_not_stored_either(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    headers = keyed(shop.headers, "sale-typo")
    typo = client.post("/api/v1/claims", json={"amount_cents": "12,50"}, headers=headers)
    assert typo.status_code == 422
    fixed = client.post("/api/v1/claims", json={"amount_cents": 1250}, headers=headers)
    assert fixed.status_code == 201 and fixed.headers.get("Idempotent-Replayed") is None
    same_answer(fixed, client.post("/api/v1/claims", json={"amount_cents": 1250},
                                   headers=headers))
    assert rows(session, sa.select(Claim.id).where(Claim.merchant_id == shop.merchant.id)) == 1


def test_a_replayed_collect_after_the_claim_expired_still_answers_200(
    client: FlaskClient, session: Session
) -> None:
    """The first answer is the answer, even when the world has moved on since."""
    shop = make_shop(session)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    claim = client.post("/api/v1/claims", json={"amount_cents": 1200, "ttl_seconds": 30},
                        headers=shop.headers)
    path = f"/api/v1/claims/{claim.json['token']}/claim"
    first = client.post(path, headers=keyed(wallet, "c"))
    assert first.status_code == 200
    session.execute(
        sa.update(Claim)
        .where(Claim.merchant_id == shop.merchant.id)
        .values(expires_at=Claim.created_at)
    )
    session.commit()
    assert client.get(f"/api/v1/claims/{claim.json['token']}",
                      headers=shop.headers).json["status"] == "claimed"
    same_answer(first, client.post(path, headers=keyed(wallet, "c")))
    assert client.get("/api/v1/wallet", headers=wallet).json["balance"] == 12
