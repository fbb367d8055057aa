"""Fraud flags: found on generated collusion, not on normal activity; idempotent;
dismissed with a note, or a frozen wallet (which can then neither collect nor spend)
or a suspended shop, each audited."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import FraudFlag, Merchant, MerchantStatus, Role, Wallet, WalletStatus
from loyalty.oversight import fraud
from loyalty.shoppers import erasure, wallets
from loyalty.spending import redemptions
from tests.factories import bearer, make_shop, make_user
from tests.municipality_dashboard.conftest import audit_rows, html, post, signed_in
from tests.municipality_dashboard.fraud_data import DAY, add_collusion, normal_town


def _flags(session: Session, scheme_id: int) -> set[tuple[str, str, int]]:
    session.expire_all()
    rows = session.execute(
        sa.select(FraudFlag.rule, FraudFlag.subject_type, FraudFlag.subject_id).where(
            FraudFlag.scheme_id == scheme_id
        )
    ).all()
    session.commit()
    return {(rule, kind, ident) for rule, kind, ident in rows}


def test_flags_collusion_but_not_normal_activity_and_twice_is_once(
    app: Flask, session: Session
) -> None:
    town = normal_town(session)
    # Three weeks of ordinary shopping: nothing to flag on any rule, on any day of
    # the last week (a busy Saturday included).
    for back in range(7):
        assert fraud.find(session, town.scheme, DAY - timedelta(days=back)) == []
    assert fraud.check(session, town.scheme, DAY, utcnow()).created == []
    session.commit()

    add_collusion(session, town)
    found = {(f.rule, f.subject_type, f.subject_id) for f in fraud.find(session, town.scheme, DAY)}
    assert found == town.expected
    first = fraud.check(session, town.scheme, DAY, utcnow())
    session.commit()
    assert len(first.created) == len(town.expected)
    assert _flags(session, town.scheme.id) == town.expected

    # The evidence is counts, and the reason names no person.
    flag = next(f for f in first.created if f.rule == fraud.Rule.WALLET_CLAIMS_AT_SHOP)
    assert flag.evidence == {"claims": 8, "points": 96, "limit": 5}
    assert "collected points 8 times" in flag.reason

    # Again, by the command cron runs: the same flags, none twice.
    result = app.test_cli_runner().invoke(
        args=["fraud", "check", "--scheme", town.scheme.slug, "--date", DAY.isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert "0 new flags" in result.output.splitlines()[-1]
    assert _flags(session, town.scheme.id) == town.expected
    assert fraud.check(session, town.scheme, DAY, utcnow()).created == []
    session.rollback()

    # A window rule does not flag the same shop again the next day.
    later = fraud.check(session, town.scheme, DAY + timedelta(days=1), utcnow())
    assert not [f for f in later.created if f.rule in fraud.WINDOWS]
    session.rollback()


def test_the_database_keeps_one_flag_per_rule_subject_and_day(session: Session) -> None:
    shop = make_shop(session)
    values = dict(
        scheme_id=shop.scheme.id,
        rule="wallet_claims_at_shop",
        subject_type="wallet",
        subject_id=wallets.create_wallet(session, shop.scheme).wallet.id,
        merchant_id=shop.merchant.id,
        day=DAY,
        reason="r",
        evidence={"claims": 6},
    )
    session.add(FraudFlag(**values))
    session.commit()
    session.add(FraudFlag(**values))
    try:
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
    else:
        raise AssertionError("a second identical flag was stored")


def _flag_for(session: Session, scheme_id: int, rule: str) -> FraudFlag:
    session.expire_all()
    flag = session.scalars(
        sa.select(FraudFlag).where(FraudFlag.scheme_id == scheme_id, FraudFlag.rule == rule)
    ).one()
    session.commit()
    return flag


def _wallet_flag(session: Session, shop_scheme_id: int, merchant_id: int, wallet_id: int) -> int:
    flag = FraudFlag(
        scheme_id=shop_scheme_id,
        rule=fraud.Rule.WALLET_CLAIMS_AT_SHOP,
        subject_type="wallet",
        subject_id=wallet_id,
        merchant_id=merchant_id,
        day=DAY,
        reason="test",
        evidence={"claims": 7, "points": 70, "limit": 5},
    )
    session.add(flag)
    session.commit()
    return flag.id


def test_freezing_a_wallet_stops_collecting_and_spending(app: Flask, session: Session) -> None:
    shop = make_shop(session)
    admin = make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)
    client = app.test_client()
    new = wallets.create_wallet(session, shop.scheme)
    session.commit()
    wallet, wallet_token = new.wallet, new.token
    sale = client.post("/api/v1/claims", json={"amount_cents": 5000}, headers=shop.headers)
    client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=bearer(wallet_token))  # type: ignore[index]
    # A spend code made before the freeze.
    held = client.post(
        "/api/v1/wallet/redemptions", json={"points": 10}, headers=bearer(wallet_token)
    )
    assert held.status_code == 201
    flag_id = _wallet_flag(session, shop.scheme.id, shop.merchant.id, wallet.id)
    session.rollback()

    admin_client = signed_in(app, admin.email)
    page = admin_client.get("/dashboard/fraud")
    assert f"Freeze wallet #{wallet.id}" in html(page)
    asked = post(admin_client, f"/dashboard/fraud/{flag_id}/freeze", note="collusion with the till")
    assert asked.status_code == 200 and "Freeze wallet #" in html(asked)
    # The question carries the note to the confirmed post.
    assert 'name="note" value="collusion with the till"' in html(asked)
    done = post(admin_client, f"/dashboard/fraud/{flag_id}/freeze", note="collusion with the till",
                confirmed="1")
    assert done.status_code == 303
    session.expire_all()
    assert session.get_one(Wallet, wallet.id).status == WalletStatus.FROZEN
    assert session.get_one(FraudFlag, flag_id).resolution == "wallet_frozen"
    session.commit()
    [entry] = audit_rows(session, shop.scheme.id, "wallet.freeze")
    assert entry.actor_id == admin.id and entry.target_id == wallet.id
    assert entry.details == {"flag": flag_id, "rule": "wallet_claims_at_shop"}

    # Collecting: 403 with the error body.
    sale = client.post("/api/v1/claims", json={"amount_cents": 2000}, headers=shop.headers)
    refused = client.post(
        f"/api/v1/claims/{sale.json['token']}/claim",
        headers=bearer(wallet_token),  # type: ignore[index]
    )
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "wallet_frozen"  # type: ignore[index]
    # Spending: no new code, and the code made before cannot be confirmed.
    refused = client.post(
        "/api/v1/wallet/redemptions", json={"points": 5}, headers=bearer(wallet_token)
    )
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "wallet_frozen"  # type: ignore[index]
    code = held.json["code"]  # type: ignore[index]
    refused = client.post(f"/api/v1/redemptions/{code}/confirm", headers=shop.headers)
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "wallet_frozen"  # type: ignore[index]

    # The evidence is on the page as counts; a freeze can be undone from the flag.
    acted = html(admin_client.get("/dashboard/fraud?status=acted"))
    assert "Sales with points" in acted and f"Unfreeze wallet #{wallet.id}" in acted
    done = post(admin_client, f"/dashboard/fraud/{flag_id}/unfreeze", note="settled")
    assert done.status_code == 303
    session.rollback()  # end the read that wallet.id began above: see the app's commit
    assert session.get_one(Wallet, wallet.id).status == WalletStatus.ACTIVE
    session.commit()
    sale = client.post("/api/v1/claims", json={"amount_cents": 2000}, headers=shop.headers)
    collected = client.post(
        f"/api/v1/claims/{sale.json['token']}/claim",  # type: ignore[index]
        headers=bearer(wallet_token),
    )
    assert collected.status_code == 200
    again = post(admin_client, f"/dashboard/fraud/{flag_id}/unfreeze", note="")
    assert again.status_code == 409
    [entry] = audit_rows(session, shop.scheme.id, "wallet.unfreeze")
    assert entry.details == {"flag": flag_id, "note": "settled"}


def test_dismiss_needs_a_note_and_suspend_stops_the_shop(app: Flask, session: Session) -> None:
    shop = make_shop(session)
    admin = make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)
    wallet = wallets.create_wallet(session, shop.scheme).wallet
    session.commit()
    first = _wallet_flag(session, shop.scheme.id, shop.merchant.id, wallet.id)
    other = wallets.create_wallet(session, shop.scheme).wallet
    session.commit()
    second = _wallet_flag(session, shop.scheme.id, shop.merchant.id, other.id)
    client = signed_in(app, admin.email)

    empty = post(client, f"/dashboard/fraud/{first}/dismiss", note="  ")
    assert empty.status_code == 422
    assert "Write a note that says why" in html(empty)
    session.expire_all()
    assert session.get_one(FraudFlag, first).status == "open"
    session.commit()
    assert audit_rows(session, shop.scheme.id) == []

    done = post(client, f"/dashboard/fraud/{first}/dismiss", note="family shopping together")
    assert done.status_code == 303
    session.expire_all()
    flag = session.get_one(FraudFlag, first)
    assert (flag.status, flag.note, flag.resolved_by_id) == (
        "dismissed",
        "family shopping together",
        admin.id,
    )
    session.commit()
    [entry] = audit_rows(session, shop.scheme.id, "fraud.dismiss")
    assert entry.details["note"] == "family shopping together"
    # A closed flag cannot be acted on again.
    again = post(client, f"/dashboard/fraud/{first}/freeze", note="")
    assert again.status_code == 409

    assert post(client, f"/dashboard/fraud/{second}/suspend", note="").status_code == 200
    assert post(client, f"/dashboard/fraud/{second}/suspend", note="",
                confirmed="1").status_code == 303
    session.expire_all()
    assert session.get_one(Merchant, shop.merchant.id).status == MerchantStatus.SUSPENDED
    session.commit()
    [entry] = audit_rows(session, shop.scheme.id, "merchant.suspend")
    assert entry.details["reason"] == f"fraud flag #{second}"
    # The suspension revoked the shop's till keys.
    refused = app.test_client().post(
        "/api/v1/claims", json={"amount_cents": 1000}, headers=shop.headers
    )
    assert refused.status_code == 401
    assert entry.details["till_keys_revoked"] == 1
    # The open list is empty now; the closed flags are under "all".
    assert "0 flags" in html(client.get("/dashboard/fraud"))
    assert "family shopping together" in html(client.get("/dashboard/fraud?status=all"))


def test_the_domain_refuses_to_freeze_without_a_wallet(session: Session) -> None:
    shop = make_shop(session)
    admin = make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)
    flag = FraudFlag(
        scheme_id=shop.scheme.id,
        rule=fraud.Rule.REDEMPTION_SHARE,
        subject_type="merchant",
        subject_id=shop.merchant.id,
        merchant_id=shop.merchant.id,
        day=DAY,
        reason="t",
        evidence={},
    )
    session.add(flag)
    session.commit()
    try:
        fraud.freeze_wallet(session, flag, admin, None, utcnow())
    except fraud.Conflict as error:
        assert error.code == "not_a_wallet"
    else:
        raise AssertionError("froze a wallet of a shop's flag")
    session.rollback()


def test_a_frozen_wallet_keeps_its_points_and_deleted_cannot_be_frozen(session: Session) -> None:
    shop = make_shop(session)
    wallet = wallets.create_wallet(session, shop.scheme).wallet
    new = claims.create_claim(session, shop.merchant, 3000, utcnow())
    claims.collect(session, new.claim, wallet, utcnow())
    wallets.freeze(session, wallet)
    assert wallets.points_balance(session, wallet) == 30
    try:
        redemptions.create_redemption(session, wallet, 10, utcnow())
    except wallets.Forbidden as error:
        assert error.code == "wallet_frozen"
    else:
        raise AssertionError("a frozen wallet made a spend code")
    session.rollback()


def test_closing_flags_of_a_suspended_shop_or_a_deleted_wallet(
    app: Flask, session: Session
) -> None:
    shop = make_shop(session)
    admin = make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)
    gone = wallets.create_wallet(session, shop.scheme).wallet
    erasure.delete_wallet(session, gone, utcnow())
    session.commit()
    first = _wallet_flag(session, shop.scheme.id, shop.merchant.id, gone.id)
    other = wallets.create_wallet(session, shop.scheme).wallet
    session.commit()
    second = _wallet_flag(session, shop.scheme.id, shop.merchant.id, other.id)
    client = signed_in(app, admin.email)

    deleted = post(client, f"/dashboard/fraud/{first}/freeze", note="", confirmed="1")
    assert deleted.status_code == 409
    assert "The owner deleted this wallet" in html(deleted)
    session.expire_all()
    assert session.get_one(FraudFlag, first).status == "open"  # rolled back with the request
    session.commit()

    assert post(client, f"/dashboard/fraud/{first}/suspend", note="",
                confirmed="1").status_code == 303
    assert post(client, f"/dashboard/fraud/{second}/suspend", note="same shop",
                confirmed="1").status_code == 303
    actions = [(e.action, e.target_type) for e in audit_rows(session, shop.scheme.id)]
    assert actions == [("merchant.suspend", "merchant"), ("fraud.close", "fraud_flag")]


def test_the_check_command_refuses_an_unknown_scheme_or_date(app: Flask) -> None:
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["fraud", "check", "--scheme", "nergensdorp"])
    assert unknown.exit_code == 1
    assert "no scheme 'nergensdorp'" in unknown.output
    bad_date = runner.invoke(args=["fraud", "check", "--date", "26/11/2026"])
    assert bad_date.exit_code == 2
    assert "YYYY-MM-DD" in runner.invoke(args=["fraud", "check", "--help"]).output
