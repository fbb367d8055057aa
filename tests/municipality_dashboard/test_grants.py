"""The dashboard's grant page: each programme's take-up and remaining budget, for
admins and analysts, and a created grant in the audit log."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Role, Scheme
from loyalty.money import grants
from loyalty.shoppers import wallets
from tests.factories import make_scheme, make_user
from tests.forms import signed_in
from tests.municipality_dashboard.conftest import audit_rows


def _signed_in(app: Flask, session: Session, scheme: Scheme, role: Role) -> FlaskClient:
    user = make_user(session, scheme, role)
    client = app.test_client()
    signed_in(client, user.email)
    return client


def test_the_grant_page_shows_take_up_and_remaining_budget(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    now = utcnow()
    grant = grants.create_grant(
        session, scheme, name="Geboortepremie", amount_cents=5000, budget_cents=20_000,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=30), who="anyone",
        now=now, created_by=admin.id,
    )
    for _ in range(3):
        grants.claim(session, grant, wallets.create_wallet(session, scheme).wallet, now)
    session.commit()
    assert [row.action for row in audit_rows(session, scheme.id, "grant.create")] == [
        "grant.create"
    ]

    for role in (Role.MUNICIPALITY_ADMIN, Role.MUNICIPALITY_ANALYST):
        client = _signed_in(app, session, scheme, role)
        page = client.get("/dashboard/grants")
        assert page.status_code == 200
        text = page.get_data(as_text=True).replace("\xa0", " ")
        assert "Geboortepremie" in text
        assert '<td class="num">3</td>' in text  # claims
        assert "€150.00" in text  # granted (English pages in the tests' sign-in)
        assert "€50.00 / €200.00" in text  # left of the budget
        assert f"/g/{grant.id}" in text
