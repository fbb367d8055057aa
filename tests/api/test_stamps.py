"""Stamp cards through the API: stamps on a sale, a full card becomes a voucher,
the voucher is spent at its own shop only."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import PurchaseEvent, Role, Voucher
from tests.factories import bearer, make_scheme, make_shop, make_user, staff_token


def _card(client: FlaskClient, session: Session, shop, **body) -> dict:  # type: ignore[no-untyped-def]
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    created = client.post(
        f"/api/v1/merchants/{shop.merchant.id}/stamp-cards",
        json={"name": "Koffiekaart", "stamps_needed": 3, "reward": "Gratis koffie", **body},
        headers=bearer(staff_token(client, owner)),
    )
    assert created.status_code == 201, created.json
    return created.json  # type: ignore[return-value]


def _sale(client: FlaskClient, shop, wallet: dict, **body) -> dict:  # type: ignore[no-untyped-def]
    claim = client.post("/api/v1/claims", json=body, headers=shop.headers)
    assert claim.status_code == 201, claim.json
    done = client.post(f"/api/v1/claims/{claim.json['token']}/claim", headers=wallet)
    assert done.status_code == 200, done.json
    return done.json  # type: ignore[return-value]


def test_a_full_card_becomes_a_voucher_for_its_own_shop(
    client: FlaskClient, session: Session, verify_ledger
) -> None:
    scheme = make_scheme(session)
    cafe = make_shop(session, scheme, name="Café De Zwaan", sector="56.301")
    bakery = make_shop(session, scheme, name="Bakkerij De Smet")
    card = _card(client, session, cafe)
    listed = client.get(f"/api/v1/merchants/{cafe.merchant.id}/stamp-cards").json
    assert listed == [
        {
            "id": card["id"],
            "name": "Koffiekaart",
            "stamps_needed": 3,
            "reward": "Gratis koffie",
            "voucher_valid_days": None,
        }
    ]
    wallet = bearer(
        client.post("/api/v1/wallets", json={"scheme": scheme.slug}).json["wallet_token"]
    )

    first = _sale(client, cafe, wallet, amount_cents=450, stamps=1)
    assert first["points_credited"] == 4 and first["stamps_credited"] == 1
    assert first["vouchers_created"] == 0
    # A stamp without a sale amount: no points, no purchase event.
    stamps_only = _sale(client, cafe, wallet, stamps=1)
    assert stamps_only["points_credited"] == 0 and stamps_only["balance"] == 4
    view = client.get("/api/v1/wallet", headers=wallet).json
    assert view["stamp_cards"] == [
        {
            "card_id": card["id"],
            "name": "Koffiekaart",
            "merchant": "Café De Zwaan",
            "stamps": 2,
            "stamps_needed": 3,
            "reward": "Gratis koffie",
        }
    ]
    assert view["vouchers"] == []

    third = _sale(client, cafe, wallet, amount_cents=300, stamps=2)
    assert third["vouchers_created"] == 1
    view = client.get("/api/v1/wallet", headers=wallet).json
    assert view["stamp_cards"][0]["stamps"] == 1  # 4 stamps: one card full, one left over
    [voucher] = view["vouchers"]
    assert voucher["reward"] == "Gratis koffie" and voucher["merchant"] == "Café De Zwaan"

    held = client.post(
        "/api/v1/wallet/redemptions", json={"voucher_id": voucher["id"]}, headers=wallet
    )
    assert held.status_code == 201
    assert held.json["voucher_id"] == voucher["id"] and held.json["points"] == 0
    # The same voucher cannot be behind two codes at once.
    again = client.post(
        "/api/v1/wallet/redemptions", json={"voucher_id": voucher["id"]}, headers=wallet
    )
    assert again.status_code == 409
    code = held.json["code"]
    elsewhere = client.post(f"/api/v1/redemptions/{code}/confirm", headers=bakery.headers)
    assert elsewhere.status_code == 403
    assert elsewhere.json["error"]["code"] == "wrong_shop"
    confirmed = client.post(f"/api/v1/redemptions/{code}/confirm", headers=cafe.headers)
    assert confirmed.status_code == 200
    assert confirmed.json == {
        "points": 0, "euro_cents": 0, "discount_cents": 0, "voucher": "Gratis koffie"}
    assert client.get("/api/v1/wallet", headers=wallet).json["vouchers"] == []
    status = session.scalar(sa.select(Voucher.status).where(Voucher.id == voucher["id"]))
    assert status == "used"

    amounts = session.scalars(
        sa.select(PurchaseEvent.amount_cents).where(PurchaseEvent.scheme_id == scheme.id)
    ).all()
    assert sorted(amounts) == [300, 450]
    verify_ledger()


def test_a_cancelled_voucher_code_gives_the_voucher_back(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    _card(client, session, shop, stamps_needed=2)
    wallet = bearer(
        client.post("/api/v1/wallets", json={"scheme": shop.scheme.slug}).json["wallet_token"]
    )
    _sale(client, shop, wallet, stamps=2)
    [voucher] = client.get("/api/v1/wallet", headers=wallet).json["vouchers"]
    code = client.post(
        "/api/v1/wallet/redemptions", json={"voucher_id": voucher["id"]}, headers=wallet
    ).json["code"]
    assert client.get("/api/v1/wallet", headers=wallet).json["vouchers"] == []
    cancelled = client.post(f"/api/v1/wallet/redemptions/{code}/cancel", headers=wallet)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert [v["id"] for v in client.get("/api/v1/wallet", headers=wallet).json["vouchers"]] == [
        voucher["id"]
    ]


def test_stamp_input_is_checked(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    no_card = client.post("/api/v1/claims", json={"stamps": 1}, headers=shop.headers)
    assert no_card.status_code == 422
    assert no_card.json["error"]["code"] == "stamp_card_required"
    _card(client, session, shop)
    for body in (
        {"stamps": 21},
        {"stamps": -1},
        {"stamps": 0},
        {"amount_cents": 0},
        {"stamps": 1, "stamp_card_id": 999999},
    ):
        response = client.post("/api/v1/claims", json=body, headers=shop.headers)
        assert response.status_code == 422, (body, response.json)
    both = client.post(
        "/api/v1/wallet/redemptions",
        json={"points": 5, "voucher_id": 1},
        headers=bearer(
            client.post("/api/v1/wallets", json={"scheme": shop.scheme.slug}).json["wallet_token"]
        ),
    )
    assert both.status_code == 422
