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
from tests.forms import csrf, signed_in
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


def test_an_admin_creates_grants_on_the_page_and_downloads_codes_once(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session, villages=["Belsele", "Sinaai"])
    session.commit()
    admin = _signed_in(app, session, scheme, Role.MUNICIPALITY_ADMIN)
    page = admin.get("/dashboard/grants").get_data(as_text=True)
    assert "New grant" in page and 'value="villages"' in page
    today = utcnow().date()
    base = {
        "csrf_token": csrf(page), "name": "Sinaai bedankt", "amount": "25,00",
        "budget": "1.000,00", "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(),
    }
    missing = admin.post("/dashboard/grants", data={**base, "who": "villages"})
    assert missing.status_code == 422
    assert "Choose at least one village." in missing.get_data(as_text=True)
    made = admin.post("/dashboard/grants", data={**base, "who": "villages",
                                                 "villages": ["Sinaai"]})
    assert made.status_code == 303

    coded = admin.post("/dashboard/grants", data={**base, "name": "Met code", "who": "code",
                                                  "codes": "3"})
    assert coded.status_code == 200
    assert coded.mimetype == "text/csv"
    rows = coded.get_data(as_text=True).splitlines()
    assert rows[0] == "code,grant,amount,link to claim,last day"
    assert len(rows) == 4 and all(",Met code,€25.00," in row for row in rows[1:])
    found = {f.grant.name: f.grant for f in grants.list_grants(session, scheme.id)}
    assert (found["Sinaai bedankt"].who, found["Sinaai bedankt"].villages) == (
        "villages", ["Sinaai"])
    code_grant = found["Met code"]
    assert grants.code_counts(session, code_grant) == (3, 0)
    session.commit()  # a new read transaction sees the next request's writes
    # The codes are kept only as hashes: the page never shows them again.
    page = admin.get("/dashboard/grants").get_data(as_text=True)
    assert rows[1].split(",")[0] not in page
    assert "0 of 3 codes used" in page
    more = admin.post(f"/dashboard/grants/{code_grant.id}/codes",
                      data={"csrf_token": csrf(page), "count": "2"})
    assert more.mimetype == "text/csv" and len(more.get_data(as_text=True).splitlines()) == 3
    assert grants.code_counts(session, code_grant) == (5, 0)
    assert [r.action for r in audit_rows(session, scheme.id)
            if r.action.startswith("grant.")] == [
        "grant.create", "grant.create", "grant.codes", "grant.codes"]

    analyst = _signed_in(app, session, scheme, Role.MUNICIPALITY_ANALYST)
    page = analyst.get("/dashboard/grants").get_data(as_text=True)
    assert "New grant" not in page
    refused = analyst.post("/dashboard/grants", data={**base, "csrf_token": csrf(page)})
    assert refused.status_code == 403
