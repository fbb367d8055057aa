"""A lost phone: an admin resets someone's two-factor sign-in from the staff page,
after a confirmation; audited; the person enrols again at the next sign-in."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.access import totp
from loyalty.infra.db import utcnow
from loyalty.models import RecoveryCode, Role, StaffSession, StaffUser, TrustedDevice
from tests.conftest import count
from tests.factories import PASSWORD, make_shop, make_user, otp
from tests.forms import csrf
from tests.municipality_dashboard.conftest import (
    Municipality,
    audit_rows,
    html,
    make_municipality,
    post,
)


def test_an_admin_resets_a_shop_owners_two_factor_sign_in(
    app: Flask, session: Session, town: Municipality
) -> None:
    shop = make_shop(session, town.scheme, name="Bakkerij Reset")
    owner = make_user(session, town.scheme, Role.MERCHANT_OWNER, shop.merchant, enrolled=False)
    totp.enrol(session, owner, utcnow())
    session.commit()
    # The owner is signed in on a tablet that skips the code.
    tablet = app.test_client()
    page = tablet.get("/login")
    tablet.post("/login", data={"csrf_token": csrf(html(page)), "email": owner.email,
                                "password": PASSWORD})
    session.expire_all()
    session.rollback()
    code = tablet.get("/login/code")
    done = tablet.post("/login/code", data={
        "csrf_token": csrf(html(code)), "code": otp(app, owner.id, owner.totp_secret or ""),
        "remember_device": "y"})
    assert done.status_code == 303 and tablet.get("/portal/till").status_code == 200

    staff_page = html(town.admin_client.get("/dashboard/staff"))
    assert "Bakkerij Reset" in staff_page and owner.email in staff_page
    confirm = town.admin_client.get(f"/dashboard/staff/{owner.id}/two-factor")
    assert confirm.status_code == 200
    assert f"Reset the two-factor sign-in of {owner.email}?" in html(confirm)
    # Looking is not doing: nothing changed yet.
    session.expire_all()
    session.rollback()
    assert session.get_one(StaffUser, owner.id).totp_enrolled_at is not None

    reset = town.admin_client.post(f"/dashboard/staff/{owner.id}/two-factor",
                                   data={"csrf_token": csrf(html(confirm))})
    assert reset.status_code == 303
    assert "Two-factor sign-in is reset" in html(town.admin_client.get(reset.headers["Location"]))
    session.expire_all()
    session.rollback()
    user = session.get_one(StaffUser, owner.id)
    assert (user.totp_secret, user.totp_enrolled_at, user.totp_last_step) == (None, None, None)
    for table in (RecoveryCode, TrustedDevice):
        assert count(session, sa.select(table).where(table.user_id == owner.id)) == 0
    assert count(session, sa.select(StaffSession).where(
        StaffSession.user_id == owner.id, StaffSession.revoked_at.is_(None))) == 0
    [entry] = audit_rows(session, town.scheme.id, "staff.totp_reset")
    assert (entry.actor_id, entry.target_id, entry.target_label) == (
        town.admin.id, owner.id, owner.email)
    assert "Two-factor sign-in reset" in html(town.admin_client.get("/dashboard/audit"))

    # Signed out on the tablet; the next sign-in there asks to enrol again.
    answer = tablet.get("/portal/till")
    assert urlsplit(answer.headers["Location"]).path == "/login"
    page = tablet.get("/login")
    again = tablet.post("/login", data={"csrf_token": csrf(html(page)), "email": owner.email,
                                        "password": PASSWORD})
    assert urlsplit(again.headers["Location"]).path == "/account/two-factor"


def test_an_admin_resets_a_colleague_but_not_oneself_nor_another_town(
    app: Flask, session: Session, town: Municipality
) -> None:
    colleague = make_user(session, town.scheme, Role.MUNICIPALITY_ADMIN)
    elsewhere = make_municipality(app, session)
    session.expire_all()
    session.rollback()
    assert post(town.admin_client, f"/dashboard/staff/{colleague.id}/two-factor").status_code == 303
    session.expire_all()
    session.rollback()
    assert session.get_one(StaffUser, colleague.id).totp_enrolled_at is None

    own = post(town.admin_client, f"/dashboard/staff/{town.admin.id}/two-factor")
    assert own.status_code == 409 and "Ask another admin" in html(own)
    assert post(town.admin_client,
                f"/dashboard/staff/{elsewhere.admin.id}/two-factor").status_code == 404
    assert town.admin_client.get(
        f"/dashboard/staff/{elsewhere.admin.id}/two-factor").status_code == 404
    # Analysts may not reset anyone.
    assert post(town.analyst_client, f"/dashboard/staff/{colleague.id}/two-factor").status_code \
        == 403
    session.expire_all()
    session.rollback()
    assert session.get_one(StaffUser, town.admin.id).totp_enrolled_at is not None
    assert session.get_one(StaffUser, elsewhere.admin.id).totp_enrolled_at is not None
    assert len(audit_rows(session, town.scheme.id, "staff.totp_reset")) == 1


def test_an_analyst_made_admin_enrols_before_anything_else(
    app: Flask, session: Session, town: Municipality
) -> None:
    client = town.analyst_client
    assert post(town.admin_client, f"/dashboard/staff/{town.analyst.id}/role",
                role="municipality_admin").status_code == 303
    for page in ("/dashboard/", "/dashboard/staff", "/account/password"):
        answer = client.get(page)
        assert urlsplit(answer.headers["Location"]).path == "/account/two-factor", page
    enrol = client.get("/account/two-factor")
    secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', html(enrol))
    assert secret, html(enrol)
    done = client.post("/account/two-factor", data={
        "csrf_token": csrf(html(enrol)), "code": otp(app, town.analyst.id, secret.group(1))})
    assert done.status_code == 200 and "Your recovery codes" in html(done)
    assert client.get("/dashboard/staff").status_code == 200


def test_who_must_enrol_can_still_sign_out(session: Session, town: Municipality) -> None:
    client = town.analyst_client
    token = csrf(html(client.get("/account/two-factor")))
    assert post(town.admin_client, f"/dashboard/staff/{town.analyst.id}/role",
                role="municipality_admin").status_code == 303
    out = client.post("/logout", data={"csrf_token": token})
    assert urlsplit(out.headers["Location"]).path == "/login"
    assert urlsplit(client.get("/account/two-factor").headers["Location"]).path == "/login"
