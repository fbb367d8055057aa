"""Who may call what: 401 for missing or bad tokens, 403 for the wrong kind of
caller, 404 across shops and schemes (never confirm that someone else's thing exists)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.infra import security
from loyalty.infra.db import utcnow
from loyalty.models import MerchantStatus, Role, TillKey
from tests.api.helpers import assert_error, claims_count, earn
from tests.factories import (
    PASSWORD,
    bearer,
    make_merchant,
    make_scheme,
    make_shop,
    make_till_key,
    make_user,
    make_wallet_token,
    otp,
    staff_token,
)

NEW_SHOP = {"name": "Boekhandel Het Anker", "sector": "47.61", "postcode": "9170",
            "email": "anker@example.be"}








# --- 401: no token, a malformed header, a token nobody issued -----------------------------

FORGED = [
    pytest.param(None, id="no-header"),
    pytest.param("", id="empty-header"),
    pytest.param("Bearer", id="bearer-without-token"),
    pytest.param("Bearer    ", id="bearer-blank-token"),
    pytest.param("Basic dXNlcjpwYXNz", id="basic-auth"),
    pytest.param("Token lsk_abc", id="wrong-scheme-word"),
    pytest.param("lsk_" + "A" * 43, id="token-without-bearer"),
    pytest.param("Bearer nonsense", id="unknown-prefix"),
    pytest.param("Bearer lsk_" + "A" * 43, id="forged-till-key"),
    pytest.param("Bearer lsw_" + "A" * 43, id="forged-wallet-token"),
    pytest.param("Bearer lst_" + "A" * 43, id="forged-staff-token"),
    pytest.param("Bearer lsk_", id="bare-till-prefix"),
    pytest.param("Bearer lsw_" + "x" * 10_000, id="10kB-wallet-token"),
    pytest.param("Bearer lst_\u00e9\u00e8\u00ff", id="latin1-garbage"),
]

PROTECTED = [
    ("GET", "/api/v1/wallet", None),
    ("POST", "/api/v1/claims", {"amount_cents": 1200}),
    ("POST", "/api/v1/wallet/redemptions", {"points": 10}),
    ("POST", "/api/v1/redemptions/12345678/confirm", None),
    ("POST", "/api/v1/merchants", NEW_SHOP),
    ("GET", "/api/v1/reports/spending?by=sector", None),
]


@pytest.mark.parametrize("authorization", FORGED)
def test_missing_malformed_or_forged_tokens_get_401(
    client: FlaskClient, session: Session, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    before = claims_count(session)
    for method, path, body in PROTECTED:
        response = client.open(path, method=method, json=body, headers=headers)
        assert_error(response, 401)
        # The Idempotency-Key path authenticates too, before anything is stored.
        if method == "POST":
            keyed = client.open(
                path, method=method, json=body, headers={**headers, "Idempotency-Key": "k1"}
            )
            assert_error(keyed, 401)
    assert claims_count(session) == before


def test_a_forged_token_of_a_real_prefix_says_nothing_about_the_prefix(
    client: FlaskClient,
) -> None:
    forged_till = client.get("/api/v1/wallet", headers=bearer("lsk_" + "B" * 43))
    forged_wallet = client.get("/api/v1/wallet", headers=bearer("lsw_" + "B" * 43))
    assert_error(forged_till, 401)
    assert_error(forged_wallet, 401)


def test_a_revoked_till_key_gets_401(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    owner_headers = bearer(staff_token(client, owner))

    made = client.post(
        f"/api/v1/merchants/{shop.merchant.id}/api-keys", json={"label": "kassa 2"},
        headers=owner_headers,
    )
    assert made.status_code == 201, made.json
    key = made.json["key"]
    assert key.startswith(security.TILL_KEY_PREFIX)
    till = bearer(key)
    claim = client.post("/api/v1/claims", json={"amount_cents": 1200}, headers=till)
    assert claim.status_code == 201

    revoked = client.delete(
        f"/api/v1/merchants/{shop.merchant.id}/api-keys/{made.json['id']}", headers=owner_headers
    )
    assert revoked.status_code == 204
    assert_error(client.post("/api/v1/claims", json={"amount_cents": 1200}, headers=till), 401,
                 "invalid_token")
    assert_error(client.get(f"/api/v1/claims/{claim.json['token']}", headers=till), 401)
    assert_error(client.post("/api/v1/redemptions/12345678/confirm", headers=till), 401)
    # Revoking one key leaves the shop's other keys working.
    still = client.post("/api/v1/claims", json={"amount_cents": 1200}, headers=shop.headers)
    assert still.status_code == 201


def test_a_revoked_staff_session_gets_401(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    token = staff_token(client, analyst)
    report = client.get("/api/v1/reports/spending?by=sector", headers=bearer(token))
    assert report.status_code == 200, report.json

    assert staff.revoke_sessions(session, analyst, utcnow()) == 1
    session.commit()
    assert_error(
        client.get("/api/v1/reports/spending?by=sector", headers=bearer(token)), 401,
        "invalid_token",
    )
    # A new login works again.
    fresh = client.get("/api/v1/reports/spending?by=sector",
                       headers=bearer(staff_token(client, analyst)))
    assert fresh.status_code == 200


def test_a_deactivated_user_gets_401_with_a_live_token(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    token = staff_token(client, admin)
    admin.active = False
    session.commit()
    assert_error(client.post("/api/v1/merchants", json=NEW_SHOP, headers=bearer(token)), 401)


# --- 403: a real token of the wrong kind ---------------------------------------------------


def test_the_wrong_kind_of_token_gets_403(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    scheme = shop.scheme
    wallet = bearer(make_wallet_token(session, scheme))
    analyst = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    cashier = bearer(
        staff_token(client, make_user(session, scheme, Role.CASHIER, shop.merchant))
    )
    owner = bearer(
        staff_token(client, make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant))
    )
    open_claim = client.post("/api/v1/claims", json={"amount_cents": 1500}, headers=shop.headers)
    token = open_claim.json["token"]
    keys = f"/api/v1/merchants/{shop.merchant.id}/api-keys"

    cases: list[tuple[str, str, Any, dict[str, str]]] = [
        ("POST", "/api/v1/claims", {"amount_cents": 1200}, wallet),
        ("POST", "/api/v1/claims", {"amount_cents": 1200}, analyst),
        ("POST", "/api/v1/claims", {"amount_cents": 1200}, cashier),  # a person, not a till key
        ("GET", "/api/v1/wallet", None, shop.headers),
        ("GET", "/api/v1/wallet", None, analyst),
        ("POST", "/api/v1/merchants", NEW_SHOP, analyst),
        ("POST", "/api/v1/merchants", NEW_SHOP, owner),
        ("POST", "/api/v1/merchants", NEW_SHOP, shop.headers),
        ("POST", "/api/v1/merchants", NEW_SHOP, wallet),
        ("POST", keys, {}, cashier),
        ("POST", keys, {}, analyst),
        ("POST", keys, {}, shop.headers),
        ("POST", keys, {}, wallet),
        ("POST", f"/api/v1/claims/{token}/claim", None, shop.headers),
        ("POST", f"/api/v1/claims/{token}/claim", None, analyst),
        ("GET", f"/api/v1/claims/{token}", None, wallet),
        ("POST", "/api/v1/wallet/redemptions", {"points": 10}, shop.headers),
        ("POST", "/api/v1/redemptions/12345678/confirm", None, wallet),
        ("GET", "/api/v1/reports/spending?by=sector", None, shop.headers),
        ("GET", "/api/v1/reports/spending?by=sector", None, wallet),
        ("GET", "/api/v1/reports/spending?by=sector", None, owner),
    ]
    for method, path, body, headers in cases:
        response = client.open(path, method=method, json=body, headers=headers)
        assert_error(response, 403, "wrong_role")

    # None of this moved anything: the claim is still open.
    status = client.get(f"/api/v1/claims/{token}", headers=shop.headers)
    assert status.json["status"] == "open"


# --- 404 / 403 across shops and schemes ----------------------------------------------------


def test_a_shop_sees_only_its_own_claims(client: FlaskClient, session: Session) -> None:
    bakery = make_shop(session)
    butcher = make_shop(session, bakery.scheme)
    elsewhere = make_shop(session)  # another scheme
    claim = client.post("/api/v1/claims", json={"amount_cents": 2000}, headers=bakery.headers)
    token = claim.json["token"]

    assert client.get(f"/api/v1/claims/{token}", headers=bakery.headers).status_code == 200
    for other in (butcher, elsewhere):
        assert_error(client.get(f"/api/v1/claims/{token}", headers=other.headers), 404,
                     "unknown_claim")
        assert_error(client.post(f"/api/v1/claims/{token}/cancel", headers=other.headers), 404)
    # The same answer as for a token that never existed: nothing leaks.
    unknown = client.get("/api/v1/claims/" + "Z" * 43, headers=butcher.headers)
    assert unknown.json == client.get(f"/api/v1/claims/{token}", headers=butcher.headers).json
    assert client.get(f"/api/v1/claims/{token}", headers=bakery.headers).json["status"] == "open"


def test_a_wallet_of_another_scheme_cannot_collect(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    stranger = bearer(make_wallet_token(session, make_scheme(session)))
    claim = client.post("/api/v1/claims", json={"amount_cents": 2000}, headers=shop.headers)
    assert_error(
        client.post(f"/api/v1/claims/{claim.json['token']}/claim", headers=stranger), 403,
        "wrong_scheme",
    )
    status = client.get(f"/api/v1/claims/{claim.json['token']}", headers=shop.headers)
    assert status.json["status"] == "open"


def test_a_till_of_another_scheme_cannot_confirm_a_code(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    elsewhere = make_shop(session)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    earn(client, shop.headers, wallet, 5000)
    code = client.post("/api/v1/wallet/redemptions", json={"points": 20}, headers=wallet)
    assert code.status_code == 201
    assert_error(
        client.post(f"/api/v1/redemptions/{code.json['code']}/confirm", headers=elsewhere.headers),
        404, "unknown_code",
    )
    assert client.get("/api/v1/wallet", headers=wallet).json["held_points"] == 20


def test_an_owner_manages_only_the_keys_of_their_own_shop(
    client: FlaskClient, session: Session
) -> None:
    mine = make_shop(session)
    theirs = make_shop(session, mine.scheme)
    owner = bearer(
        staff_token(client, make_user(session, mine.scheme, Role.MERCHANT_OWNER, mine.merchant))
    )
    own = client.post(f"/api/v1/merchants/{mine.merchant.id}/api-keys", json={}, headers=owner)
    assert own.status_code == 201

    other = client.post(f"/api/v1/merchants/{theirs.merchant.id}/api-keys", json={},
                        headers=owner)
    assert_error(other, 403, "wrong_merchant")
    # Nor revoke them: the other shop's key keeps working.
    revoke = client.delete(
        f"/api/v1/merchants/{theirs.merchant.id}/api-keys/{own.json['id']}", headers=owner
    )
    assert_error(revoke, 403, "wrong_merchant")
    # Another shop's key id under one's own shop's path is not found either.
    theirs_key_id = session.scalar(
        sa.select(TillKey.id).where(TillKey.merchant_id == theirs.merchant.id)
    )
    session.commit()
    sneaky = client.delete(
        f"/api/v1/merchants/{mine.merchant.id}/api-keys/{theirs_key_id}", headers=owner
    )
    assert_error(sneaky, 404)
    assert client.post("/api/v1/claims", json={"amount_cents": 1200},
                       headers=theirs.headers).status_code == 201


def test_an_admin_of_another_scheme_gets_404(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    other_scheme = make_scheme(session)
    admin = bearer(staff_token(client, make_user(session, other_scheme, Role.MUNICIPALITY_ADMIN)))
    home_admin = bearer(
        staff_token(client, make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN))
    )
    key = client.post(f"/api/v1/merchants/{shop.merchant.id}/api-keys", json={},
                      headers=home_admin)
    assert key.status_code == 201

    made = client.post(f"/api/v1/merchants/{shop.merchant.id}/api-keys", json={}, headers=admin)
    assert_error(made, 404)
    revoke = client.delete(
        f"/api/v1/merchants/{shop.merchant.id}/api-keys/{key.json['id']}", headers=admin
    )
    assert_error(revoke, 404)
    # The same answer as for a shop that does not exist at all.
    assert_error(client.post("/api/v1/merchants/2147483000/api-keys", json={}, headers=admin),
                 404)
    assert client.post("/api/v1/claims", json={"amount_cents": 1200},
                       headers=bearer(key.json["key"])).status_code == 201


def test_an_admin_creates_an_approved_shop_that_is_listed(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    admin = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ADMIN)))
    created = client.post("/api/v1/merchants", json=NEW_SHOP, headers=admin)
    assert created.status_code == 201, created.json
    assert created.json["status"] == "approved"
    assert isinstance(created.json["id"], int)

    listed = client.get(f"/api/v1/merchants?scheme={scheme.slug}")
    assert listed.status_code == 200
    assert {"id": created.json["id"], "name": NEW_SHOP["name"], "sector": "47.61",
            "postcode": "9170"}.items() <= next(
        m for m in listed.json if m["id"] == created.json["id"]
    ).items()
    assert created.json["id"] in [m["id"] for m in client.get("/api/v1/merchants").json]
    # The shop belongs to the admin's scheme and no other.
    other = make_scheme(session)
    assert client.get(f"/api/v1/merchants?scheme={other.slug}").json == []


@pytest.mark.parametrize(
    "status", [MerchantStatus.PENDING, MerchantStatus.SUSPENDED, MerchantStatus.REFUSED]
)
def test_a_shop_that_is_not_approved_cannot_give_or_take_points(
    client: FlaskClient, session: Session, status: MerchantStatus
) -> None:
    good = make_shop(session)
    merchant = make_merchant(session, good.scheme, name="Niet Goedgekeurd")
    # Only an approved shop can make a till key: this one was made before.
    till = bearer(make_till_key(session, merchant))
    merchant.status = status
    session.commit()
    wallet = bearer(make_wallet_token(session, good.scheme))
    earn(client, good.headers, wallet, 3000)
    code = client.post("/api/v1/wallet/redemptions", json={"points": 10}, headers=wallet)
    claims_before = claims_count(session)

    assert_error(client.post("/api/v1/claims", json={"amount_cents": 1200}, headers=till), 403,
                 "merchant_not_approved")
    assert_error(
        client.post(f"/api/v1/redemptions/{code.json['code']}/confirm", headers=till), 403,
        "merchant_not_approved",
    )
    assert claims_count(session) == claims_before
    assert client.get("/api/v1/wallet", headers=wallet).json["held_points"] == 10

    listed = [m["id"] for m in client.get(f"/api/v1/merchants?scheme={good.scheme.slug}").json]
    assert listed == [good.merchant.id]
    assert merchant.id not in [m["id"] for m in client.get("/api/v1/merchants").json]


def test_a_shop_suspended_later_is_stopped_at_once(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    assert client.post("/api/v1/claims", json={"amount_cents": 1200},
                       headers=shop.headers).status_code == 201
    shop.merchant.status = MerchantStatus.SUSPENDED
    session.commit()
    assert_error(client.post("/api/v1/claims", json={"amount_cents": 1200}, headers=shop.headers),
                 403, "merchant_not_approved")
    assert client.get(f"/api/v1/merchants?scheme={shop.scheme.slug}").json == []


def test_a_wrong_password_looks_like_an_unknown_email(
    client: FlaskClient, session: Session
) -> None:
    user = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    # A network address of its own: failed logins count against it (the login throttle).
    elsewhere = {"REMOTE_ADDR": "192.0.2.77"}
    wrong = client.post("/api/v1/auth/token", json={"email": user.email, "password": "nope" * 3},
                        environ_base=elsewhere)
    unknown = client.post(
        "/api/v1/auth/token", json={"email": "nobody-" + user.email, "password": PASSWORD},
        environ_base=elsewhere,
    )
    wrong_error = assert_error(wrong, 401)
    unknown_error = assert_error(unknown, 401)
    assert wrong_error == unknown_error
    assert "token" not in wrong.get_data(as_text=True)
    # E-mail addresses are matched without regard to case; the right password works.
    ok = client.post("/api/v1/auth/token",
                     json={"email": user.email.upper(), "password": PASSWORD,
                           "otp": otp(client.application, user.id)})
    assert ok.status_code == 201 and ok.json["token"].startswith(security.STAFF_TOKEN_PREFIX)
