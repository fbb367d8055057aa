"""The social tariff's dashboard page: settings, budget and codes by an admin (audited,
codes downloaded once), take-up only in aggregate, nothing for an analyst."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Role, Scheme
from loyalty.money import ledger, social
from loyalty.shoppers import wallets
from tests.factories import make_scheme, make_user
from tests.forms import csrf, signed_in
from tests.municipality_dashboard.conftest import audit_rows


def _signed_in(app: Flask, session: Session, scheme: Scheme, role: Role) -> FlaskClient:
    user = make_user(session, scheme, role)
    client = app.test_client()
    signed_in(client, user.email)
    return client


def test_the_social_service_hands_out_codes_and_sees_take_up_in_aggregate(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session, k_anonymity=2)
    session.commit()
    admin = _signed_in(app, session, scheme, Role.MUNICIPALITY_ADMIN)
    page = admin.get("/dashboard/social-tariff")
    assert page.status_code == 200
    token = csrf(page.get_data(as_text=True))

    saved = admin.post("/dashboard/social-tariff/settings",
                       data={"csrf_token": token, "monthly": "15,00", "multiplier": "1,5"})
    assert saved.status_code == 303
    assert admin.post("/dashboard/social-tariff/budget",
                      data={"csrf_token": token, "amount": "500"}).status_code == 303
    session.commit()
    session.refresh(scheme)
    assert (scheme.social_monthly_cents, scheme.social_multiplier_pct) == (1500, 150)
    assert ledger.balance(session, social.budget_account(session, scheme.id).id) == 50_000
    session.commit()  # a new read transaction sees the next requests' writes

    until = utcnow().date() + timedelta(days=180)
    past = admin.post("/dashboard/social-tariff/codes", data={
        "csrf_token": token, "count": "2", "until": "2020-01-01"})
    assert past.status_code == 422
    download = admin.post("/dashboard/social-tariff/codes", data={
        "csrf_token": token, "count": "2", "until": until.isoformat()})
    assert download.mimetype == "text/csv"
    rows = download.get_data(as_text=True).splitlines()
    assert rows[0] == "code,entitled until,where to enter it"
    codes = [row.split(",")[0] for row in rows[1:]]
    assert len(codes) == 2 and all(row.endswith("/social-tariff") for row in rows[1:])
    assert [r.action for r in audit_rows(session, scheme.id) if r.action.startswith("social")] \
        == ["social.settings", "social.fund", "social.codes"]

    # One wallet entitled: below k, the page hides the figures.
    today = utcnow().date()
    social.enter_code(session, wallets.create_wallet(session, scheme).wallet, codes[0], today,
                      utcnow())
    session.commit()
    text = admin.get("/dashboard/social-tariff").get_data(as_text=True)
    assert "Fewer than 2 wallets" in text and "Wallets entitled today" not in text
    assert codes[1] not in text  # the codes are never shown again
    social.enter_code(session, wallets.create_wallet(session, scheme).wallet, codes[1], today,
                      utcnow())
    session.commit()
    text = admin.get("/dashboard/social-tariff").get_data(as_text=True)
    assert "Wallets entitled today" in text and "Fewer than" not in text

    analyst = _signed_in(app, session, scheme, Role.MUNICIPALITY_ANALYST)
    assert analyst.get("/dashboard/social-tariff").status_code == 403
