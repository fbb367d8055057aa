"""Grants through the API: a programme, claims once per wallet, its budget, dates and roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import AccountKind, Role, Scheme
from loyalty.money import accounts, ledger
from loyalty.shoppers import wallets
from tests.factories import bearer, make_scheme, make_user, make_wallet_token, staff_token


def _body(**overrides: Any) -> dict[str, Any]:
    now = utcnow()
    body: dict[str, Any] = {
        "name": "Geboortepremie",
        "amount_cents": 2500,
        "budget_cents": 5000,
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "who": "anyone",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def _staff(client: FlaskClient, session: Session, scheme: Scheme, role: Role) -> dict[str, str]:
    return bearer(staff_token(client, make_user(session, scheme, role)))


def _wallet(session: Session, scheme: Scheme) -> dict[str, str]:
    return bearer(make_wallet_token(session, scheme))


def test_a_grant_is_claimed_once_per_wallet_until_its_budget_is_spent(
    client: FlaskClient, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    admin = _staff(client, session, scheme, Role.MUNICIPALITY_ADMIN)
    created = client.post("/api/v1/grants", json=_body(), headers=admin)
    assert created.status_code == 201, created.json
    grant_id = created.json["id"]
    assert created.json["claim_url"].endswith(f"/g/{grant_id}")
    municipality = accounts.scheme_account(session, scheme.id, AccountKind.MUNICIPALITY)
    assert ledger.balance(session, municipality.id) == -5000

    first, second, third = (_wallet(session, scheme) for _ in range(3))
    claimed = client.post(f"/api/v1/grants/{grant_id}/claim", headers=first)
    assert claimed.status_code == 200, claimed.json
    assert claimed.json == {"euro_cents_credited": 2500, "euro_cents": 2500}

    again = client.post(f"/api/v1/grants/{grant_id}/claim", headers=first)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "already_claimed"

    assert client.post(f"/api/v1/grants/{grant_id}/claim", headers=second).status_code == 200
    spent = client.post(f"/api/v1/grants/{grant_id}/claim", headers=third)
    assert spent.status_code == 409
    assert spent.json["error"]["code"] == "budget_spent"

    wallet = client.get("/api/v1/wallet", headers=first).json
    assert wallet["euro_cents"] == 2500
    [part] = wallet["euro_parts"]
    assert (part["source"], part["name"], part["left_cents"]) == ("grant", "Geboortepremie", 2500)
    assert part["expires_at"] > (utcnow() + timedelta(days=364)).isoformat()
    assert client.get("/api/v1/wallet", headers=third).json["euro_cents"] == 0

    analyst = _staff(client, session, scheme, Role.MUNICIPALITY_ANALYST)
    figures = client.get(f"/api/v1/grants/{grant_id}", headers=analyst)
    assert figures.status_code == 200
    assert figures.json == {
        "id": grant_id, "name": "Geboortepremie", "amount_cents": 2500,
        "budget_cents": 5000, "granted_cents": 5000, "claims": 2,
        "who": "anyone", "villages": [],
    }
    assert ledger.verify(session).ok
    mine = ledger.town_euro_flows(session, scheme.id)
    assert mine == {"in": 5000, "held": 5000, "spent": 0, "expired": 0}
    session.commit()
    verify_ledger()


def test_a_grant_is_claimed_only_between_its_dates(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    admin = _staff(client, session, scheme, Role.MUNICIPALITY_ADMIN)
    now = utcnow()
    later = client.post("/api/v1/grants", headers=admin, json=_body(
        starts_at=(now + timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=2)).isoformat(),
    )).json["id"]
    answer = client.post(f"/api/v1/grants/{later}/claim", headers=_wallet(session, scheme))
    assert answer.status_code == 410
    assert answer.json["error"]["code"] == "grant_closed"


def test_grant_input_roles_and_schemes(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    other = make_scheme(session)
    admin = _staff(client, session, scheme, Role.MUNICIPALITY_ADMIN)
    analyst = _staff(client, session, scheme, Role.MUNICIPALITY_ANALYST)

    assert client.post("/api/v1/grants", json=_body(), headers=analyst).status_code == 403
    for bad in (
        _body(who="village"),
        _body(budget_cents=1000),  # less than one claim
        _body(amount_cents=0),
        _body(amount_cents="25"),
        _body(ends_at=(utcnow() - timedelta(days=1)).isoformat()),
        _body(name=""),
    ):
        answer = client.post("/api/v1/grants", json=bad, headers=admin)
        assert answer.status_code == 422, (bad, answer.json)
        assert "error" in answer.json

    grant_id = client.post("/api/v1/grants", json=_body(), headers=admin).json["id"]
    elsewhere = _wallet(session, other)
    assert client.post(f"/api/v1/grants/{grant_id}/claim", headers=elsewhere).status_code == 404
    other_admin = _staff(client, session, other, Role.MUNICIPALITY_ADMIN)
    assert client.get(f"/api/v1/grants/{grant_id}", headers=other_admin).status_code == 404
    assert client.post(f"/api/v1/grants/{grant_id}/claim").status_code == 401


def test_a_grant_for_code_holders_takes_each_code_once(
    client: FlaskClient, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    admin = _staff(client, session, scheme, Role.MUNICIPALITY_ADMIN)
    grant_id = client.post("/api/v1/grants", headers=admin,
                           json=_body(who="code", budget_cents=10_000)).json["id"]
    analyst = _staff(client, session, scheme, Role.MUNICIPALITY_ANALYST)
    url = f"/api/v1/grants/{grant_id}/codes"
    assert client.post(url, json={"count": 2}, headers=analyst).status_code == 403
    assert client.post(url, json={"count": 0}, headers=admin).status_code == 422
    issued = client.post(url, json={"count": 2}, headers=admin)
    assert issued.status_code == 201, issued.json
    first_code, second_code = issued.json["codes"]
    assert first_code != second_code and len(first_code) == 19  # XXXX-XXXX-XXXX-XXXX

    first, second, third = (_wallet(session, scheme) for _ in range(3))
    claim = f"/api/v1/grants/{grant_id}/claim"
    no_code = client.post(claim, headers=first)
    assert (no_code.status_code, no_code.json["error"]["code"]) == (403, "code_required")
    wrong = client.post(claim, headers=first, json={"code": "AAAA-BBBB-CCCC-DDDD"})
    assert (wrong.status_code, wrong.json["error"]["code"]) == (403, "invalid_code")
    # Typed in lower case without dashes, it is the same code.
    typed = first_code.replace("-", "").lower()
    assert client.post(claim, headers=first, json={"code": typed}).status_code == 200
    used = client.post(claim, headers=second, json={"code": first_code})
    assert (used.status_code, used.json["error"]["code"]) == (409, "code_used")
    # A wallet that claimed keeps the other code unused for someone else.
    again = client.post(claim, headers=first, json={"code": second_code})
    assert (again.status_code, again.json["error"]["code"]) == (409, "already_claimed")
    assert client.post(claim, headers=third, json={"code": second_code}).status_code == 200

    # A grant for anyone has no codes.
    anyone = client.post("/api/v1/grants", headers=admin, json=_body()).json["id"]
    refused = client.post(f"/api/v1/grants/{anyone}/codes", json={"count": 1}, headers=admin)
    assert (refused.status_code, refused.json["error"]["code"]) == (422, "not_a_code_grant")
    session.commit()
    verify_ledger()


def test_a_grant_for_villages_takes_residents_only(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session, villages=["Belsele", "Nieuwkerken", "Sinaai"])
    admin = _staff(client, session, scheme, Role.MUNICIPALITY_ADMIN)
    for bad in (_body(who="villages"), _body(who="villages", villages=["Gent"]),
                _body(villages=["Belsele"])):
        answer = client.post("/api/v1/grants", json=bad, headers=admin)
        assert (answer.status_code, answer.json["error"]["code"]) == (422, "invalid_villages")
    grant_id = client.post("/api/v1/grants", headers=admin, json=_body(
        who="villages", villages=["Sinaai", "Belsele"])).json["id"]
    found = client.get(f"/api/v1/grants/{grant_id}", headers=admin).json
    assert (found["who"], found["villages"]) == ("villages", ["Belsele", "Sinaai"])

    resident, outsider, unknown = (make_wallet_token(session, scheme) for _ in range(3))
    for token, village in ((resident, "Sinaai"), (outsider, "Nieuwkerken")):
        wallets.set_statistics(session, wallets.wallet_by_token(session, token), postcode="9111",
                               village=village, age_band=None, villages=scheme.villages)
    session.commit()
    claim = f"/api/v1/grants/{grant_id}/claim"
    assert client.post(claim, headers=bearer(resident)).status_code == 200
    for token in (outsider, unknown):
        refused = client.post(claim, headers=bearer(token))
        assert (refused.status_code, refused.json["error"]["code"]) == (403, "not_resident")
        assert "Belsele, Sinaai" in refused.json["error"]["message"]
