"""Campaigns through the API: creation, live spend, bonus on earns, roles and schemes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import AccountKind, PurchaseEvent, Role, Scheme
from loyalty.money import accounts, ledger
from tests.factories import bearer, make_scheme, make_shop, make_user, staff_token


def _body(**overrides: Any) -> dict[str, Any]:
    now = utcnow()
    body: dict[str, Any] = {
        "name": "Dubbele punten in december",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=14)).isoformat(),
        "budget_cents": 5000,
        "multiplier": 2,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def _admin(client: FlaskClient, session: Session, scheme: Scheme) -> dict[str, str]:
    return bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ADMIN)))


def _earn(client: FlaskClient, till: dict[str, str], scheme: Scheme, cents: int) -> Any:
    claim = client.post("/api/v1/claims", json={"amount_cents": cents}, headers=till).json
    wallet = client.post("/api/v1/wallets", json={"scheme": scheme.slug}).json
    return client.post(
        f"/api/v1/claims/{claim['token']}/claim", headers=bearer(wallet["wallet_token"])
    )


def test_a_campaign_funds_its_budget_and_doubles_points_until_spent(
    client: FlaskClient, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)  # 5 cents a point
    bakery = make_shop(session, scheme, sector="47.24")
    butcher = make_shop(session, scheme, sector="47.22")
    admin = _admin(client, session, scheme)

    # EUR 5.00 of budget pays 100 bonus points; only bakeries (47.24) take part.
    body = _body(sectors=["47.24"], budget_cents=500)
    created = client.post("/api/v1/campaigns", json=body, headers=admin)
    assert created.status_code == 201, created.json
    assert created.json["status"] == "active"
    campaign_id = created.json["id"]
    municipality = accounts.scheme_account(session, scheme.id, AccountKind.MUNICIPALITY)
    assert ledger.balance(session, municipality.id) == -500

    # 40 points at the bakery: 40 bonus points (EUR 2.00 of the budget).
    first = _earn(client, bakery.headers, scheme, 4000)
    assert first.json["points_credited"] == 80 and first.json["balance"] == 80
    # The butcher is not in the campaign.
    assert _earn(client, butcher.headers, scheme, 4000).json["points_credited"] == 40
    # 50 points: 50 bonus (EUR 2.50); 10 bonus points (EUR 0.50) are left.
    assert _earn(client, bakery.headers, scheme, 5000).json["points_credited"] == 100
    # 30 bonus points do not fit: the sale still gets its base points.
    assert _earn(client, bakery.headers, scheme, 3000).json["points_credited"] == 30

    seen = client.get(f"/api/v1/campaigns/{campaign_id}", headers=admin)
    assert seen.status_code == 200
    assert seen.json == {
        "id": campaign_id,
        "name": "Dubbele punten in december",
        "status": "active",
        "budget_cents": 500,
        "spent_cents": 450,
        "bonus_points_given": 90,
    }
    session.commit()  # end the test session's read snapshot
    tagged = session.execute(
        sa.select(PurchaseEvent.points, PurchaseEvent.campaign_id)
        .where(PurchaseEvent.scheme_id == scheme.id)
        .order_by(PurchaseEvent.id)
    ).all()
    assert [tuple(r) for r in tagged] == [
        (80, campaign_id), (40, None), (100, campaign_id), (30, None)
    ]
    session.commit()
    verify_ledger()


def test_a_fixed_bonus_per_sale_for_chosen_shops(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    chosen = make_shop(session, scheme, sector="47.24")
    other = make_shop(session, scheme, sector="47.24")
    admin = _admin(client, session, scheme)
    body = _body(multiplier=None, bonus_points=25, merchant_ids=[chosen.merchant.id])
    assert client.post("/api/v1/campaigns", json=body, headers=admin).status_code == 201
    assert _earn(client, chosen.headers, scheme, 1000).json["points_credited"] == 35
    assert _earn(client, other.headers, scheme, 1000).json["points_credited"] == 10


def test_bad_input_is_a_4xx_with_the_error_envelope(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    other_scheme = make_scheme(session)
    foreign = make_shop(session, other_scheme)
    admin = _admin(client, session, scheme)
    now = utcnow()
    cases = [
        _body(multiplier=None),  # neither kind of bonus
        _body(bonus_points=10),  # both kinds
        _body(multiplier=1),
        _body(multiplier="1.005"),
        _body(multiplier=11),
        _body(bonus_points=0, multiplier=None),
        _body(budget_cents=0),
        _body(budget_cents=-5),
        _body(budget_cents=10**20),
        _body(budget_cents="100"),
        _body(ends_at=(now - timedelta(days=30)).isoformat(),
              starts_at=(now - timedelta(days=40)).isoformat()),
        _body(ends_at=(now - timedelta(days=1)).isoformat()),  # before its start
        _body(starts_at="2026-12-01T00:00:00"),  # no time zone
        _body(name=""),
        _body(sectors=["99.99"]),
        _body(sectors=["bakeries"]),
        _body(merchant_ids=[foreign.merchant.id]),
        _body(merchant_ids=[2**40]),
        _body(colour="red"),
    ]
    for body in cases:
        answer = client.post("/api/v1/campaigns", json=body, headers=admin)
        assert answer.status_code in (400, 422), (body, answer.json)
        assert set(answer.json["error"]) >= {"code", "message"}, answer.json
    assert client.post(
        "/api/v1/campaigns", data="{", headers={**admin, "Content-Type": "application/json"}
    ).status_code == 400
    # Nothing was created or funded by the refused requests.
    municipality = accounts.scheme_account(session, scheme.id, AccountKind.MUNICIPALITY)
    assert ledger.balance(session, municipality.id) == 0


def test_roles_and_schemes(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    admin = _admin(client, session, scheme)
    analyst = bearer(
        staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST))
    )
    owner = bearer(
        staff_token(client, make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant))
    )
    created = client.post("/api/v1/campaigns", json=_body(), headers=admin).json

    # An analyst reads campaigns but cannot create one; a shop can do neither.
    assert client.post("/api/v1/campaigns", json=_body(), headers=analyst).status_code == 403
    assert client.post("/api/v1/campaigns", json=_body(), headers=owner).status_code == 403
    assert client.post("/api/v1/campaigns", json=_body(), headers=shop.headers).status_code == 403
    assert client.post("/api/v1/campaigns", json=_body()).status_code == 401
    assert client.get(f"/api/v1/campaigns/{created['id']}", headers=analyst).status_code == 200
    assert client.get(f"/api/v1/campaigns/{created['id']}", headers=owner).status_code == 403

    # Another municipality's campaign does not exist for this one.
    elsewhere = make_scheme(session)
    their_admin = _admin(client, session, elsewhere)
    for path in (f"/api/v1/campaigns/{created['id']}",
                 f"/api/v1/campaigns/{created['id']}/evaluation",
                 "/api/v1/campaigns/999999"):
        answer = client.get(path, headers=their_admin)
        assert answer.status_code == 404, path
        assert answer.json["error"]["code"] in ("unknown_campaign", "not_found")

    # A running campaign is evaluated after its end.
    early = client.get(f"/api/v1/campaigns/{created['id']}/evaluation", headers=admin)
    assert early.status_code == 409 and early.json["error"]["code"] == "not_ended"


def test_creation_is_idempotent(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    admin = _admin(client, session, scheme)
    headers = {**admin, "Idempotency-Key": "campaign-kerst-2026"}
    body = _body()
    first = client.post("/api/v1/campaigns", json=body, headers=headers)
    again = client.post("/api/v1/campaigns", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    municipality = accounts.scheme_account(session, scheme.id, AccountKind.MUNICIPALITY)
    assert ledger.balance(session, municipality.id) == -5000
