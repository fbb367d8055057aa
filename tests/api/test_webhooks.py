"""Shop webhooks through the API: registered by the owner, enqueued with the value
move, delivered signed to a real receiver, retried with backoff, given up after a day."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lokaal_sparen import tasks
from loyalty.earning import corrections
from loyalty.errors import InvalidInput
from loyalty.infra.db import utcnow
from loyalty.models import Claim, Merchant, Role, StaffUser, WebhookDelivery
from loyalty.shops import webhook_delivery, webhooks
from tests.api.helpers import assert_error
from tests.factories import (
    Shop,
    bearer,
    make_shop,
    make_user,
    make_wallet_token,
    staff_token,
)
from tests.webhook_receiver import receiver, verify

ALL = ["claim.collected", "redemption.confirmed", "sale.reversed"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "till-integration.md"


def _docs_verify() -> Callable[[str, str, bytes], bool]:
    """verify_signature of the till guide's webhook section, as a shop would copy it."""
    section = DOCS.read_text().split("## Webhooks", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example, "no Python example in the guide's webhook section"
    found: dict[str, Any] = {}
    exec(compile(example.group(1), str(DOCS), "exec"), found)  # noqa: S102  (our own docs)
    verify_signature: Callable[[str, str, bytes], bool] = found["verify_signature"]
    return verify_signature


def _owner(client: FlaskClient, session: Session, shop: Shop) -> tuple[StaffUser, dict[str, str]]:
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    return owner, bearer(staff_token(client, owner))


def _register(client: FlaskClient, shop: Shop, owner: dict[str, str], url: str,
              events: list[str] = ALL) -> dict[str, Any]:
    created = client.post(f"/api/v1/merchants/{shop.merchant.id}/webhooks",
                          json={"url": url, "events": events}, headers=owner)
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json  # type: ignore[assignment]
    assert set(body) == {"id", "secret"}
    return body


def _sale(client: FlaskClient, shop: Shop, wallet: dict[str, str], cents: int = 2350,
          key: str | None = None) -> str:
    created = client.post("/api/v1/claims", json={"amount_cents": cents}, headers=shop.headers)
    assert created.status_code == 201, created.json
    token: str = created.json["token"]  # type: ignore[index]
    headers = {**wallet, **({"Idempotency-Key": key} if key else {})}
    collected = client.post(f"/api/v1/claims/{token}/claim", headers=headers)
    assert collected.status_code == 200, collected.json
    return token


def _deliver(app: Flask, now: datetime | None = None) -> str:
    with app.app_context():
        return tasks.deliver_webhooks(lambda line: None, now or utcnow()).summary


def _log(client: FlaskClient, shop: Shop, owner: dict[str, str], hook: int) -> list[Any]:
    answer = client.get(f"/api/v1/merchants/{shop.merchant.id}/webhooks/{hook}/deliveries",
                        headers=owner)
    assert answer.status_code == 200, answer.json
    rows: list[Any] = answer.json  # type: ignore[assignment]
    return rows


def test_each_event_reaches_the_shop_signed_with_its_secret(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    owner_user, owner = _owner(client, session, shop)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    with receiver(200) as hook:
        created = _register(client, shop, owner, hook.url)
        _sale(client, shop, wallet, 4000)
        assert _deliver(app).startswith("webhooks: 1 sent of 1 due, 1 delivered")
        assert len(hook.received) == 1
        got = hook.received[0]
        assert verify(created["secret"], got.headers["Lokaal-Signature"], got.body)
        assert not verify("lswh_another", got.headers["Lokaal-Signature"], got.body)
        docs_verify = _docs_verify()
        assert docs_verify(created["secret"], got.headers["Lokaal-Signature"], got.body)
        assert not docs_verify(created["secret"], got.headers["Lokaal-Signature"],
                               got.body.replace(b"4000", b"9000"))
        event = json.loads(got.body)
        assert set(event) == {"id", "type", "created_at", "data"}
        assert event["type"] == "claim.collected"
        assert event["data"]["amount_cents"] == 4000
        assert event["data"]["points"] == 40
        assert "wallet_id" not in event["data"]

        # The shopper spends 10 points at this shop, and the owner corrects the sale.
        code = client.post("/api/v1/wallet/redemptions", json={"points": 10},
                           headers=wallet).json["code"]  # type: ignore[index]
        confirmed = client.post(f"/api/v1/redemptions/{code}/confirm", headers=shop.headers)
        assert confirmed.status_code == 200, confirmed.json
        claim = session.scalars(sa.select(Claim).where(
            Claim.merchant_id == shop.merchant.id)).one()
        corrections.correct_sale(session, claim, session.get_one(Merchant, shop.merchant.id),
                                 session.get_one(StaffUser, owner_user.id), "typo", utcnow())
        session.commit()
        _deliver(app)
        types = [json.loads(r.body)["type"] for r in hook.received]
        assert types == ["claim.collected", "redemption.confirmed", "sale.reversed"]
        assert all(verify(created["secret"], r.headers["Lokaal-Signature"], r.body)
                   for r in hook.received)
        reversed_ = json.loads(hook.received[2].body)["data"]
        assert (reversed_["points_taken_back"], reversed_["points_not_recovered"]) == (30, 10)
    log = _log(client, shop, owner, created["id"])
    assert [(r["event"], r["status"], r["attempts"]) for r in log] == [
        ("sale.reversed", "delivered", 1), ("redemption.confirmed", "delivered", 1),
        ("claim.collected", "delivered", 1)]
    assert all(r["delivered_at"] for r in log)
    # Nothing is sent twice.
    assert _deliver(app).startswith("webhooks: 0 sent of 0 due")


def test_a_failing_receiver_is_retried_with_backoff_and_the_log_shows_it(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    _, owner = _owner(client, session, shop)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    with receiver(500, 200) as hook:
        created = _register(client, shop, owner, hook.url, ["claim.collected"])
        _sale(client, shop, wallet)
        start = utcnow()
        _deliver(app, start)
        [first] = _log(client, shop, owner, created["id"])
        assert (first["status"], first["attempts"], first["delivered_at"]) == ("pending", 1, None)
        assert first["last_status_code"] == 500
        retry_at = datetime.fromisoformat(first["next_attempt_at"])
        assert timedelta(seconds=55) < retry_at - start < timedelta(seconds=65)
        _deliver(app, start + timedelta(seconds=30))  # not due yet
        assert len(hook.received) == 1
        _deliver(app, start + timedelta(seconds=70))
        assert len(hook.received) == 2
        assert hook.received[0].body == hook.received[1].body  # the same event again
    [done] = _log(client, shop, owner, created["id"])
    assert (done["status"], done["attempts"]) == ("delivered", 2)
    assert done["delivered_at"] is not None


def test_a_receiver_that_never_answers_2xx_is_given_up_after_a_day(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    _, owner = _owner(client, session, shop)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    with receiver(503) as hook:
        created = _register(client, shop, owner, hook.url, ["claim.collected"])
        _sale(client, shop, wallet)
        start = utcnow()
        moment = start
        for _ in range(40):  # each retry when due, backing off to an hour
            _deliver(app, moment)
            [row] = _log(client, shop, owner, created["id"])
            if row["status"] != "pending":
                break
            moment = datetime.fromisoformat(row["next_attempt_at"]) + timedelta(seconds=1)
    assert row["status"] == "failed"
    # The last attempt came a day after the first.
    assert timedelta(hours=22) < moment - start < timedelta(hours=25)
    # 1, 2, 4 ... 32 minutes, then hourly for the rest of the day.
    assert 25 <= row["attempts"] == len(hook.received) <= 31


def test_replaying_a_collect_enqueues_its_event_once(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    _, owner = _owner(client, session, shop)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    created = _register(client, shop, owner, "http://127.0.0.1:9/hooks", ["claim.collected"])
    token = _sale(client, shop, wallet, key="collect-1")
    again = client.post(f"/api/v1/claims/{token}/claim",
                        headers={**wallet, "Idempotency-Key": "collect-1"})
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert client.post(f"/api/v1/claims/{token}/claim", headers=wallet).status_code == 409
    rows = session.scalars(sa.select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == created["id"])).all()
    assert len(rows) == 1


def test_only_the_owner_or_the_municipality_manages_a_shops_webhooks(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    _, owner = _owner(client, session, shop)
    path = f"/api/v1/merchants/{shop.merchant.id}/webhooks"
    body = {"url": "https://kassa.example.be/hooks", "events": ["claim.collected"]}
    cashier = bearer(staff_token(client, make_user(session, shop.scheme, Role.CASHIER,
                                                   shop.merchant)))
    other = make_shop(session, shop.scheme)
    _, other_owner = _owner(client, session, other)
    for headers in (shop.headers, cashier, other_owner):
        assert_error(client.post(path, json=body, headers=headers), 403)
        assert_error(client.get(path, headers=headers), 403)
    created = _register(client, shop, owner, body["url"], body["events"])
    for headers in (shop.headers, cashier, other_owner):
        assert_error(client.get(f"{path}/{created['id']}/deliveries", headers=headers), 403)
        assert_error(client.delete(f"{path}/{created['id']}", headers=headers), 403)
    admin = bearer(staff_token(client, make_user(session, shop.scheme,
                                                 Role.MUNICIPALITY_ADMIN)))
    listed = client.get(path, headers=admin)
    assert listed.status_code == 200
    assert [(w["url"], w["active"]) for w in listed.json] == [(body["url"], True)]
    assert "secret" not in listed.json[0]
    assert client.delete(f"{path}/{created['id']}", headers=owner).status_code == 204
    assert client.get(path, headers=owner).json[0]["active"] is False


@pytest.mark.parametrize(("body", "code"), [
    ({"url": "http://kassa.example.be/hooks", "events": ["claim.collected"]}, "https_required"),
    ({"url": "ftp://kassa.example.be/hooks", "events": ["claim.collected"]}, "invalid_url"),
    ({"url": "https://user:pw@kassa.example.be/", "events": ["claim.collected"]}, "invalid_url"),
    ({"url": "https://kassa.example.be/", "events": ["claim.lost"]}, "invalid_input"),
    ({"url": "https://kassa.example.be/", "events": []}, "invalid_input"),
    ({"url": "https://kassa.example.be/"}, "invalid_input"),
])
def test_bad_webhooks_are_refused_with_a_4xx(
    client: FlaskClient, session: Session, body: dict[str, Any], code: str
) -> None:
    shop = make_shop(session)
    _, owner = _owner(client, session, shop)
    answer = client.post(f"/api/v1/merchants/{shop.merchant.id}/webhooks", json=body,
                         headers=owner)
    assert_error(answer, 422, code)


def test_outside_tests_only_public_https_addresses_are_allowed() -> None:
    for url in ("https://10.1.2.3/hooks", "https://127.0.0.1/", "https://localhost/",
                "https://[::1]/", "https://169.254.169.254/latest", "http://localhost:8080/"):
        with pytest.raises(InvalidInput):
            webhooks.check_url(url, allow_local=False)
    assert webhooks.check_url(" https://kassa.example.be/x ", allow_local=False) == (
        "https://kassa.example.be/x")
    assert webhooks.check_url("http://localhost:8080/", allow_local=True)
    assert webhooks.allows_local({"TESTING": True})
    assert not webhooks.allows_local({"TESTING": False, "DEBUG": False})


def test_the_sender_refuses_a_local_address_and_never_follows_a_redirect() -> None:
    now = utcnow()
    with receiver(302) as hook:
        outgoing = webhook_delivery.Outgoing(1, hook.url, "lswh_x", '{"id":"evt_1"}', 0, now,
                                             now)
        # Outside tests the address is checked after DNS, at the moment of sending.
        blocked = webhook_delivery.send(outgoing, now, allow_local=False)
        assert not blocked.ok and blocked.status_code is None
        assert "non-public address (127.0.0.1)" in (blocked.error or "")
        assert hook.received == []
        redirected = webhook_delivery.send(outgoing, now, allow_local=True)
        assert (redirected.ok, redirected.status_code) == (False, 302)
        assert len(hook.received) == 1
