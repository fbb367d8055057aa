"""A shop that guesses spend codes, a suspended shop and a pending one (security review):
each test plays the attack through the API and checks that it is stopped."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import (
    AuditEntry,
    Claim,
    ClaimStatus,
    FraudFlag,
    MerchantStatus,
    Role,
    SpendCodeMiss,
    StaffSession,
    TillKey,
)
from loyalty.oversight import fraud
from loyalty.shops import onboarding
from loyalty.spending import redemptions
from tests.api.helpers import assert_error, earn
from tests.conftest import count
from tests.factories import (
    PASSWORD,
    Shop,
    bearer,
    make_merchant,
    make_shop,
    make_till_key,
    make_user,
    make_wallet_token,
    otp,
    staff_token,
)
from tests.forms import csrf


def _spend_code(client: FlaskClient, session: Session) -> tuple[str, Shop]:
    """A live spend code of 10 points, and the shop where its points were earned."""
    shop = make_shop(session)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    earn(client, shop.headers, wallet, 3000)
    code = client.post("/api/v1/wallet/redemptions", json={"points": 10}, headers=wallet)
    assert code.status_code == 201, code.json
    return code.json["code"], shop


def _wrong_codes(real: str, n: int) -> list[str]:
    """``n`` codes of eight digits, none of them ``real``."""
    return [f"{(int(real) + 1 + i) % 10**8:08d}" for i in range(n)]


def test_a_till_that_guesses_spend_codes_is_stopped_and_flagged(
    client: FlaskClient, session: Session
) -> None:
    code, shop = _spend_code(client, session)
    wrong = _wrong_codes(code, redemptions.MAX_MISSES_PER_TILL)
    for guess in wrong[:-1]:
        assert_error(client.get(f"/api/v1/redemptions/{guess}", headers=shop.headers), 404,
                     "unknown_code")
    # A confirm guesses as well as a look-up does.
    assert_error(client.post(f"/api/v1/redemptions/{wrong[-1]}/confirm", headers=shop.headers),
                 404, "unknown_code")

    # The limit is reached: not even the real code is looked up now.
    assert_error(client.get(f"/api/v1/redemptions/{code}", headers=shop.headers), 429,
                 "too_many_unknown_codes")
    assert_error(client.post(f"/api/v1/redemptions/{code}/confirm", headers=shop.headers), 429,
                 "too_many_unknown_codes")
    # Counted although every one of those requests failed and rolled back.
    misses = sa.select(SpendCodeMiss.id).where(SpendCodeMiss.merchant_id == shop.merchant.id)
    assert count(session, misses) == redemptions.MAX_MISSES_PER_TILL
    # The municipality sees it on its fraud page.
    [flag] = session.scalars(sa.select(FraudFlag).where(
        FraudFlag.rule == fraud.Rule.SPEND_CODE_GUESSING,
        FraudFlag.merchant_id == shop.merchant.id,
    )).all()
    key_id = session.scalar(sa.select(TillKey.id).where(TillKey.merchant_id == shop.merchant.id))
    assert (flag.subject_type, flag.subject_id, flag.status) == ("till_key", key_id, "open")
    assert flag.evidence["misses"] == redemptions.MAX_MISSES_PER_TILL
    session.commit()


def test_new_till_keys_do_not_reset_the_shops_limit(
    client: FlaskClient, session: Session
) -> None:
    code, shop = _spend_code(client, session)
    guesser = make_shop(session, shop.scheme)
    extra = [bearer(make_till_key(session, guesser.merchant)) for _ in range(2)]
    tills = [guesser.headers, *extra]
    per_till = redemptions.MAX_MISSES_PER_TILL
    for i, guess in enumerate(_wrong_codes(code, redemptions.MAX_MISSES_PER_SHOP)):
        assert_error(client.get(f"/api/v1/redemptions/{guess}", headers=tills[i // per_till]),
                     404, "unknown_code")
    # The third key has not missed once, but its shop has missed too often.
    assert_error(client.get(f"/api/v1/redemptions/{code}", headers=tills[2]), 429,
                 "too_many_unknown_codes")
    # The shop that made the code is not held back by another shop's guessing.
    assert client.get(f"/api/v1/redemptions/{code}", headers=shop.headers).status_code == 200


def test_a_suspended_shops_till_key_no_longer_looks_up_or_takes_codes(
    client: FlaskClient, session: Session
) -> None:
    code, shop = _spend_code(client, session)
    other = make_merchant(session, shop.scheme)
    till = bearer(make_till_key(session, other))
    assert client.get(f"/api/v1/redemptions/{code}", headers=till).status_code == 200
    # Suspended by a plain status change, without onboarding.decide revoking the key.
    other.status = MerchantStatus.SUSPENDED
    session.commit()
    assert_error(client.get(f"/api/v1/redemptions/{code}", headers=till), 403,
                 "merchant_not_approved")
    assert_error(client.post(f"/api/v1/redemptions/{code}/confirm", headers=till), 403,
                 "merchant_not_approved")


def test_a_suspension_ends_the_shops_claims_keys_and_sessions(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    admin = make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)
    token = bearer(staff_token(client, owner))
    wallet = bearer(make_wallet_token(session, shop.scheme))
    earned = client.post("/api/v1/claims", json={"amount_cents": 2500}, headers=shop.headers)
    assert earned.status_code == 201
    # A receipt QR lives up to a month: still open when the shop is suspended.
    printed = client.post("/api/v1/claims", json={"amount_cents": 4000, "ttl_seconds": 86400},
                          headers=shop.headers)
    assert printed.status_code == 201

    onboarding.decide(session, shop.merchant, MerchantStatus.SUSPENDED, admin, reason="fraud")
    session.commit()

    for claim in (earned, printed):
        assert_error(client.post(f"/api/v1/claims/{claim.json['token']}/claim", headers=wallet),
                     409, "claim_cancelled")
    assert client.get("/api/v1/wallet", headers=wallet).json["balance"] == 0
    assert_error(client.post("/api/v1/claims", json={"amount_cents": 1000},
                             headers=shop.headers), 401, "invalid_token")
    assert_error(client.post(f"/api/v1/merchants/{shop.merchant.id}/api-keys", json={},
                             headers=token), 401)
    open_sessions = sa.select(StaffSession.id).where(
        StaffSession.user_id == owner.id, StaffSession.revoked_at.is_(None)
    )
    assert count(session, open_sessions) == 0
    [entry] = session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "merchant.suspend", AuditEntry.target_id == shop.merchant.id
    )).all()
    assert entry.details == {"from": "approved", "to": "suspended", "reason": "fraud",
                             "claims_cancelled": 2, "till_keys_revoked": 1, "sessions_ended": 1}
    session.commit()


def test_the_collect_guard_checks_the_shop_in_the_same_statement(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    wallet = bearer(make_wallet_token(session, shop.scheme))
    sale = client.post("/api/v1/claims", json={"amount_cents": 2500}, headers=shop.headers)
    assert sale.status_code == 201
    # The suspension commits between the claim's look-up and the guard, before
    # it could cancel anything: only the guard itself can still refuse.
    shop.merchant.status = MerchantStatus.SUSPENDED
    session.commit()
    assert_error(client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=wallet), 403,
                 "merchant_not_approved")
    assert client.get("/api/v1/wallet", headers=wallet).json["balance"] == 0
    status = session.scalar(sa.select(Claim.status).where(Claim.merchant_id == shop.merchant.id))
    assert status == ClaimStatus.OPEN
    session.commit()


def test_a_staff_token_of_a_suspended_shop_stops_working(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    token = bearer(staff_token(client, owner))
    url = f"/api/v1/merchants/{shop.merchant.id}/api-keys"
    assert client.post(url, json={}, headers=token).status_code == 201
    shop.merchant.status = MerchantStatus.SUSPENDED  # the session itself is not revoked
    session.commit()
    assert_error(client.post(url, json={}, headers=token), 401, "merchant_suspended")


def test_a_suspended_shops_staff_get_no_new_token_nor_session(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    cashier = make_user(session, shop.scheme, Role.CASHIER, shop.merchant)
    shop.merchant.status = MerchantStatus.SUSPENDED
    session.commit()
    answer = client.post("/api/v1/auth/token", json={
        "email": owner.email, "password": PASSWORD, "otp": otp(client.application, owner.id)})
    assert_error(answer, 403, "merchant_suspended")
    client.set_cookie("lang", "en")
    page = client.get("/login").get_data(as_text=True)
    signed = client.post("/login", data={"csrf_token": csrf(page), "email": cashier.email,
                                         "password": PASSWORD})
    assert signed.status_code == 403
    assert "This shop is suspended by the municipality." in signed.get_data(as_text=True)
    assert count(session, sa.select(StaffSession.id).where(
        StaffSession.user_id.in_([owner.id, cashier.id]))) == 0


def test_a_pending_shop_cannot_mint_till_keys(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session)
    pending = make_merchant(session, shop.scheme, status=MerchantStatus.PENDING)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, pending)
    token = bearer(staff_token(client, owner))
    assert_error(client.post(f"/api/v1/merchants/{pending.id}/api-keys", json={},
                             headers=token), 403, "merchant_not_approved")
    assert count(session, sa.select(TillKey.id).where(TillKey.merchant_id == pending.id)) == 0


def test_the_collect_page_says_the_shop_can_no_longer_give_points(
    client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session)
    sale = client.post("/api/v1/claims", json={"amount_cents": 2500}, headers=shop.headers)
    assert sale.status_code == 201
    page = client.get(f"/c/{sale.json['token']}")
    assert page.status_code == 200
    shop.merchant.status = MerchantStatus.SUSPENDED  # between the scan and the tap
    session.commit()
    client.set_cookie("lang", "en")
    tapped = client.post(f"/c/{sale.json['token']}",
                         data={"csrf_token": csrf(page.get_data(as_text=True))})
    assert tapped.status_code == 403
    assert "This shop can no longer give points." in tapped.get_data(as_text=True)
    status = session.scalar(sa.select(Claim.status).where(Claim.merchant_id == shop.merchant.id))
    assert status == ClaimStatus.OPEN
    session.commit()
