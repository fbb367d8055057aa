"""Spending town money: a grant's euros on a spend code with points, confirmed at
another shop's till, the shop paid for them in the monthly settlement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import AccountKind, Asset, Merchant, Role, Scheme, Wallet
from loyalty.money import accounts, euros, grants, ledger
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import bearer, make_scheme, make_shop, make_user, staff_token
from tests.settlement_data import _Txn, post_bulk

PERIOD = "2025-03"
AT = datetime(2025, 3, 12, 10, tzinfo=UTC)


def test_points_and_euros_on_one_code_at_the_till(
    client: FlaskClient, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)  # 5 cents a point
    issuer, taker = make_shop(session, scheme), make_shop(session, scheme)
    now = utcnow()
    grant = grants.create_grant(
        session, scheme, name="Premie", amount_cents=2000, budget_cents=2000,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1), who="anyone", now=now,
    )
    session.commit()
    sale = client.post("/api/v1/claims", json={"amount_cents": 4000}, headers=issuer.headers)
    wallet_token = client.post("/api/v1/wallets", json={"scheme": scheme.slug}).json["wallet_token"]
    shopper = bearer(wallet_token)
    assert client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=shopper
                       ).status_code == 200
    points = client.get("/api/v1/wallet", headers=shopper).json["balance"]
    assert points > 10
    assert client.post(f"/api/v1/grants/{grant.id}/claim", headers=shopper).status_code == 200

    too_much = client.post("/api/v1/wallet/redemptions", json={"euro_cents": 2001},
                           headers=shopper)
    assert too_much.status_code == 409
    neither = client.post("/api/v1/wallet/redemptions", json={}, headers=shopper)
    assert neither.status_code == 422
    both = client.post("/api/v1/wallet/redemptions", json={"points": 10, "euro_cents": 1500},
                       headers=shopper)
    assert both.status_code == 201, both.json
    assert (both.json["points"], both.json["euro_cents"], both.json["discount_cents"]) == (
        10, 1500, 1550)
    assert client.get("/api/v1/wallet", headers=shopper).json["euro_cents"] == 500

    confirmed = client.post(f"/api/v1/redemptions/{both.json['code']}/confirm",
                            headers=taker.headers)
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["points"] == 10
    assert confirmed.json["euro_cents"] == 1500
    assert confirmed.json["discount_cents"] == 1550
    again = client.post(f"/api/v1/redemptions/{both.json['code']}/confirm",
                        headers=taker.headers)
    assert again.status_code == 409

    # A euros-only code withdrawn by the shopper: the euros come back.
    only = client.post("/api/v1/wallet/redemptions", json={"euro_cents": 300}, headers=shopper)
    assert only.status_code == 201, only.json
    assert client.get("/api/v1/wallet", headers=shopper).json["euro_cents"] == 200
    assert client.post(f"/api/v1/wallet/redemptions/{only.json['code']}/cancel",
                       headers=shopper).status_code == 200
    assert client.get("/api/v1/wallet", headers=shopper).json["euro_cents"] == 500

    assert ledger.verify(session).ok
    assert ledger.town_euro_flows(session, scheme.id) == {
        "in": 2000, "held": 500, "spent": 1500, "expired": 0}
    session.commit()
    verify_ledger()


def _earn(session: Session, scheme: Scheme, merchant: Merchant, wallet: Wallet,
          points: int) -> None:
    value = points * scheme.point_value_cents
    post_bulk(session, scheme.id, [_Txn("earn", AT, [
        (ledger.account(session, scheme.id, AccountKind.MERCHANT_ISSUED, Asset.POINTS,
                        ledger.merchant_owner(merchant.id)), -points),
        (wallets.points_account(session, wallet), points),
        (accounts.merchant_account(session, scheme.id, merchant.id, AccountKind.MERCHANT_POSITION),
         -value),
        (accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY), value),
    ], scheme.point_value_cents)])


def test_the_settlement_pays_a_shop_for_the_euros_it_took(
    client: FlaskClient, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    issuer, taker = make_shop(session, scheme), make_shop(session, scheme)
    grant = grants.create_grant(
        session, scheme, name="Premie", amount_cents=1200, budget_cents=1200,
        starts_at=AT - timedelta(hours=1), ends_at=AT + timedelta(days=1), who="anyone", now=AT,
    )
    wallet = wallets.create_wallet(session, scheme).wallet
    session.commit()
    _earn(session, scheme, issuer.merchant, wallet, 40)
    grants.claim(session, grant, wallet, AT)
    code = redemptions.create_redemption(session, wallet, 20, AT, euro_cents=1000).code
    redemptions.confirm_redemption(session, code, taker.merchant, AT)
    session.commit()
    assert euros.balance(session, wallet) == 200

    admin = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ADMIN)))
    settled = client.post("/api/v1/settlements", json={"period": PERIOD}, headers=admin)
    assert settled.status_code == 201, settled.json
    rows = {row["merchant_id"]: row for row in settled.json["shops"]}
    # 20 points at 5 cents and EUR 10.00 of town money.
    assert rows[taker.merchant.id]["redeemed_cents"] == 1100
    assert rows[taker.merchant.id]["euros_redeemed_cents"] == 1000
    assert rows[issuer.merchant.id]["euros_redeemed_cents"] == 0
    assert rows[taker.merchant.id]["net_cents"] == 1100
    assert rows[issuer.merchant.id]["net_cents"] == -200
    session.commit()
    verify_ledger()
