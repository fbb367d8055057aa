"""The till page's side of an outage: its batch of codes with their QR codes, the
queue sent once, the service worker, and the phone that scanned too early."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Claim, Role
from tests.factories import make_scheme, make_shop, make_user
from tests.forms import signed_in
from tests.qrdecode import decode_svg


def _post(client: FlaskClient, path: str, body: Any) -> Any:
    token = client.get("/portal/till/offline/token").get_json()["csrf"]
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_the_till_gets_a_batch_and_sends_its_sales_once(
    client: FlaskClient, app: Any, session: Session
) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    cashier = make_user(session, scheme, Role.CASHIER, shop.merchant)
    other_shop = make_shop(session, scheme, name="Andere zaak")
    other_cashier = make_user(session, scheme, Role.CASHIER, other_shop.merchant)
    session.commit()
    signed_in(client, cashier.email)

    till_page = client.get("/portal/till").get_data(as_text=True)
    assert 'class="offline-till"' in till_page
    assert "Offline: this code is recorded as soon as the connection is back." in till_page
    # The till's service worker, from /portal/ so that its scope covers the till.
    worker = client.get("/portal/till-sw.js")
    assert worker.status_code == 200
    assert worker.mimetype == "text/javascript"
    assert "caches.open" in worker.get_data(as_text=True)
    worker.close()

    # Without the CSRF header a batch is refused.
    assert client.post("/portal/till/offline/batch", json={"have": 0}).status_code == 400
    batch = _post(client, "/portal/till/offline/batch", {"till": None, "have": 0})
    assert batch.status_code == 200, batch.get_data(as_text=True)
    till, codes = batch.get_json()["till"], batch.get_json()["codes"]
    assert len(codes) == 10
    url = decode_svg(codes[0]["qr_svg"])
    assert url == [f"https://sparen.example.be/c/{codes[0]['token']}"]

    # The phone that scans before the till is back is told to come again.
    waiting = client.get(f"/c/{codes[0]['token']}")
    assert waiting.status_code == 200
    assert "has not sent this sale yet" in waiting.get_data(as_text=True)
    assert client.get("/c/not-a-code").status_code == 404

    sold_at = _iso(datetime.now(UTC))
    queue = {"till": till, "sales": [
        {"token": codes[0]["token"], "amount_cents": 2350, "sold_at": sold_at},
        {"token": codes[1]["token"], "amount_cents": 50, "sold_at": sold_at},
    ]}
    sent = _post(client, "/portal/till/offline/sales", queue)
    assert sent.status_code == 200, sent.get_data(as_text=True)
    first, small = sent.get_json()["results"]
    assert (first["status"], first["points"]) == ("recorded", 23)
    assert (small["status"], small["code"]) == ("refused", "no_points")
    # The answer was lost and the till sends the queue again: nothing changes.
    again = _post(client, "/portal/till/offline/sales", queue).get_json()["results"]
    assert again[0] == first
    assert session.scalar(
        sa.select(sa.func.count()).select_from(Claim)
        .where(Claim.merchant_id == shop.merchant.id)
    ) == 1
    session.rollback()

    page = client.get(f"/c/{codes[0]['token']}").get_data(as_text=True)
    assert "has not sent this sale yet" not in page
    assert "23" in page

    # Malformed queues are refused as a whole, in JSON.
    bad = _post(client, "/portal/till/offline/sales",
                {"till": till, "sales": [{"token": codes[2]["token"], "amount_cents": 100,
                                          "sold_at": "2026-12-05 10:00"}]})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_input"

    # Another shop's till cannot record this shop's codes.
    client.post("/logout")
    client.delete_cookie("session")
    signed_in(client, other_cashier.email)
    stolen = _post(client, "/portal/till/offline/sales", {"till": till, "sales": [
        {"token": codes[3]["token"], "amount_cents": 9900, "sold_at": sold_at},
    ]}).get_json()["results"]
    assert (stolen[0]["status"], stolen[0]["code"]) == ("refused", "unknown_claim")
    assert session.scalar(
        sa.select(sa.func.count()).select_from(Claim)
        .where(Claim.merchant_id == shop.merchant.id)
    ) == 1
    assert session.scalar(
        sa.select(sa.func.count()).select_from(Claim)
        .where(Claim.merchant_id == other_shop.merchant.id)
    ) == 0
