"""The whole value loop through the HTTP API: earn, read the QR back, claim, spend."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import PurchaseEvent
from tests.factories import bearer, make_scheme, make_shop
from tests.qrdecode import decode_svg


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


def test_earn_and_spend_through_the_api(
    client: FlaskClient, session: Session, verify_ledger
) -> None:
    scheme = make_scheme(session)
    bakery = make_shop(session, scheme, name="Bakkerij De Smet")
    butcher = make_shop(session, scheme, name="Slagerij Van Hoeylandt")

    # The till asks for a claim of a EUR 23.50 sale: 23 points at 1 point per full euro.
    created = client.post(
        "/api/v1/claims", json={"amount_cents": 2350}, headers=bakery.headers
    )
    assert created.status_code == 201
    claim = created.json
    assert claim["points"] == 23
    assert claim["url"] == f"https://sparen.example.be/c/{claim['token']}"
    assert len(claim["token"]) >= 43  # 256 bits, url-safe base64

    # The QR code the till shows carries exactly the claim URL.
    qr = client.get(_path(claim["qr_svg_url"]))
    assert qr.status_code == 200
    assert qr.mimetype == "image/svg+xml"
    assert decode_svg(qr.get_data(as_text=True)) == [claim["url"]]

    status = client.get(f"/api/v1/claims/{claim['token']}", headers=bakery.headers)
    assert status.json["status"] == "open"

    # The shopper's phone opens a wallet and collects the points.
    wallet = client.post("/api/v1/wallets", json={"scheme": scheme.slug})
    assert wallet.status_code == 201
    shopper = bearer(wallet.json["wallet_token"])
    assert len(wallet.json["recovery_code"].replace("-", "")) == 16
    collected = client.post(f"/api/v1/claims/{claim['token']}/claim", headers=shopper)
    assert collected.status_code == 200
    assert collected.json == {
        "points_credited": 23,
        "balance": 23,
        "merchant": "Bakkerij De Smet",
        "stamps_credited": 0,
        "vouchers_created": 0,
    }

    status = client.get(f"/api/v1/claims/{claim['token']}", headers=bakery.headers)
    assert status.json["status"] == "claimed"

    # A second sale at the butcher: 41 more points.
    second = client.post("/api/v1/claims", json={"amount_cents": 4199}, headers=butcher.headers)
    client.post(f"/api/v1/claims/{second.json['token']}/claim", headers=shopper)
    assert client.get("/api/v1/wallet", headers=shopper).json["balance"] == 64

    # Spend 40 points (EUR 2.00 at 5 cents a point) at the butcher.
    hold = client.post("/api/v1/wallet/redemptions", json={"points": 40}, headers=shopper)
    assert hold.status_code == 201
    code = hold.json["code"]
    assert code.isdigit() and len(code) == 8
    assert decode_svg(client.get(_path(hold.json["qr_svg_url"])).get_data(as_text=True)) == [code]
    view = client.get("/api/v1/wallet", headers=shopper).json
    assert view["balance"] == 24 and view["held_points"] == 40

    # The cashier looks the code up, then confirms it.
    preview = client.get(f"/api/v1/redemptions/{code}", headers=butcher.headers)
    assert preview.json["status"] == "held" and preview.json["discount_cents"] == 200
    confirmed = client.post(f"/api/v1/redemptions/{code}/confirm", headers=butcher.headers)
    assert confirmed.status_code == 200
    assert confirmed.json == {"points": 40, "euro_cents": 0, "discount_cents": 200,
                              "voucher": None}

    view = client.get("/api/v1/wallet", headers=shopper).json
    assert view["balance"] == 24 and view["held_points"] == 0
    assert [(h["kind"], h["points"], h["merchant"]) for h in view["history"]] == [
        ("spend", -40, "Slagerij Van Hoeylandt"),
        ("earn", 41, "Slagerij Van Hoeylandt"),
        ("earn", 23, "Bakkerij De Smet"),
    ]
    mine = client.get(f"/api/v1/wallet/redemptions/{code}", headers=shopper).json
    assert mine["status"] == "confirmed" and mine["merchant"] == "Slagerij Van Hoeylandt"

    # Each earn left one anonymous purchase event.
    events = session.scalars(
        sa.select(PurchaseEvent).where(PurchaseEvent.scheme_id == scheme.id)
    ).all()
    assert sorted(e.amount_cents for e in events) == [2350, 4199]
    assert len({e.shopper_key for e in events}) == 1
    verify_ledger()


def test_shop_rate_above_the_scheme_rate(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session, earn_rate=3)
    created = client.post("/api/v1/claims", json={"amount_cents": 1099}, headers=shop.headers)
    assert created.json["points"] == 30


def test_a_sale_under_one_euro_earns_nothing(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    created = client.post("/api/v1/claims", json={"amount_cents": 99}, headers=shop.headers)
    assert created.status_code == 422
    assert created.json["error"]["code"] == "no_points"
