"""The campaign and event pages of the dashboard, through the real login form."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.analytics import campaign_release
from loyalty.earning import campaigns
from loyalty.infra.db import utcnow
from loyalty.models import AccountKind, CalendarEvent, Campaign, Role, Scheme
from loyalty.money import accounts, ledger
from tests.campaign_data import (
    AFTER_END,
    EVENT,
    LEAST_NOISE,
    event_data,
    generate,
    release_seeded,
)
from tests.factories import make_merchant, make_scheme, make_user
from tests.forms import csrf, signed_in


def _signed_in(app: Flask, session: Session, scheme: Scheme, role: Role) -> FlaskClient:
    user = make_user(session, scheme, role)
    client = app.test_client()
    signed_in(client, user.email)
    return client


def test_an_admin_creates_a_campaign_and_follows_its_budget(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session)
    bakery = make_merchant(session, scheme, sector="47.24", name="Bakkerij Reynaert")
    admin = _signed_in(app, session, scheme, Role.MUNICIPALITY_ADMIN)
    form = admin.get("/dashboard/campaigns/new")
    assert form.status_code == 200
    today = date.today()
    data = {
        "csrf_token": csrf(form.get_data(as_text=True)),
        "name": "Dubbele punten bij de bakker",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=13)).isoformat(),
        "budget": "1.500,00",
        "kind": "multiplier",
        "multiplier": "2",
        "sectors": "47.24, 56",
        "shops": str(bakery.id),
    }
    bad = admin.post("/dashboard/campaigns/new", data={**data, "sectors": "bakkers"})
    assert bad.status_code == 422
    assert "Use NACE-BEL codes" in bad.get_data(as_text=True)
    yesterday = (today - timedelta(days=1)).isoformat()
    reversed_ = admin.post("/dashboard/campaigns/new", data={**data, "ends_on": yesterday})
    assert reversed_.status_code == 422
    assert "cannot be before the first day" in reversed_.get_data(as_text=True)
    no_bonus = admin.post("/dashboard/campaigns/new", data={**data, "multiplier": ""})
    assert no_bonus.status_code == 422
    assert session.scalar(sa.select(sa.func.count(Campaign.id))
                          .where(Campaign.scheme_id == scheme.id)) == 0

    created = admin.post("/dashboard/campaigns/new", data=data)
    assert created.status_code == 303, created.get_data(as_text=True)
    session.commit()
    campaign = session.scalars(sa.select(Campaign).where(Campaign.scheme_id == scheme.id)).one()
    assert (campaign.budget_cents, campaign.multiplier_pct, campaign.sectors,
            campaign.merchant_ids) == (150_000, 200, ["47.24", "56"], [bakery.id])
    municipality = accounts.scheme_account(session, scheme.id, AccountKind.MUNICIPALITY)
    assert ledger.balance(session, municipality.id) == -150_000

    page = admin.get(created.headers["Location"]).get_data(as_text=True)
    assert "Dubbele punten bij de bakker" in page
    assert "€0.00 of €1,500.00 spent (0%)" in page
    assert "Bakkerij Reynaert" in page and "47.24" in page
    assert "The evaluation is ready after the end" in page
    listing = admin.get("/dashboard/campaigns").get_data(as_text=True)
    assert "Dubbele punten bij de bakker" in listing and "running" in listing


def test_an_analyst_sees_campaigns_but_cannot_create_one(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    analyst = _signed_in(app, session, scheme, Role.MUNICIPALITY_ANALYST)
    assert analyst.get("/dashboard/campaigns").status_code == 200
    assert "New campaign" not in analyst.get("/dashboard/campaigns").get_data(as_text=True)
    assert analyst.get("/dashboard/campaigns/new").status_code == 403
    assert analyst.post("/dashboard/campaigns/new", data={}).status_code in (400, 403)
    events = analyst.get("/dashboard/events")
    assert events.status_code == 200 and "Mark an event" not in events.get_data(as_text=True)
    token = csrf(events.get_data(as_text=True)) if "csrf_token" in events.get_data(
        as_text=True) else ""
    refused = analyst.post("/dashboard/events", data={
        "csrf_token": token, "name": "Kermis", "starts_on": "2026-07-01",
        "ends_on": "2026-07-02",
    })
    assert refused.status_code in (400, 403)
    session.commit()
    assert session.scalar(sa.select(sa.func.count(CalendarEvent.id))
                          .where(CalendarEvent.scheme_id == scheme.id)) == 0


def test_another_municipalitys_campaign_and_event_are_not_found(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session)
    now = utcnow()
    campaign = campaigns.create_campaign(
        session, scheme, name="Elders", starts_at=now, ends_at=now + timedelta(days=3),
        budget_cents=100, bonus_points=1, now=now,
    )
    event = campaigns.create_event(
        session, scheme, name="Elders", starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 2)
    )
    session.commit()
    other = _signed_in(app, session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    assert other.get(f"/dashboard/campaigns/{campaign.id}").status_code == 404
    assert other.get(f"/dashboard/events/{event.id}").status_code == 404
    assert other.get("/dashboard/campaigns/99999999").status_code == 404


def test_the_evaluation_page_of_an_ended_campaign(app: Flask, session: Session) -> None:
    # A doubling: under the released noise a smaller lift is not told apart from
    # zero (tests/campaign_data.LEAST_NOISE), and this page should say "more".
    campaign, _sales = generate(session, 1.0, 1)
    scheme = session.get_one(Scheme, campaign.scheme_id)
    release_seeded(session, scheme, 1, **LEAST_NOISE)
    client = _signed_in(app, session, scheme, Role.MUNICIPALITY_ANALYST)
    assert utcnow() > AFTER_END  # the generated campaign is over
    page = client.get(f"/dashboard/campaigns/{campaign.id}").get_data(as_text=True)
    assert "more spending in participating shops" in page
    assert "<svg" in page and 'role="img"' in page and "url(#hatch)" in page
    for text in ("Before", "During", "After", "Participating shops", "Other shops"):
        assert text in page
    assert "shopper-" not in page  # no pseudonym ever reaches a page
    # Every average in the table carries the margin of its released noise.
    assert page.count('<br><span class="margin">± €') == 6
    dutch = client.get(f"/dashboard/campaigns/{campaign.id}?lang=nl").get_data(as_text=True)
    assert "meer bestedingen in deelnemende zaken" in dutch

    # Once the campaign has its own release, the estimate counts purchases.
    assert campaign_release.release_campaign(session, campaign, AFTER_END) == 98
    session.commit()
    page = client.get(f"/dashboard/campaigns/{campaign.id}").get_data(as_text=True)
    assert "more purchases in participating shops" in page
    assert "own figures: released once after the campaign" in page
    dutch = client.get(f"/dashboard/campaigns/{campaign.id}?lang=nl").get_data(as_text=True)
    assert "meer aankopen in deelnemende zaken" in dutch
    assert "uit de eigen cijfers van de campagne" in dutch


def test_marking_and_evaluating_an_event(app: Flask, session: Session) -> None:
    scheme, event = event_data(session, 0.30, 7)
    release_seeded(session, scheme, 7, **LEAST_NOISE)
    admin = _signed_in(app, session, scheme, Role.MUNICIPALITY_ADMIN)
    page = admin.get("/dashboard/events")
    assert "Kermis" in page.get_data(as_text=True)
    token = csrf(page.get_data(as_text=True))
    too_long = admin.post("/dashboard/events", data={
        "csrf_token": token, "name": "Zomer", "starts_on": "2026-07-01", "ends_on": "2026-08-15",
    })
    assert too_long.status_code == 422 and "at most 31 days" in too_long.get_data(as_text=True)
    marked = admin.post("/dashboard/events", data={
        "csrf_token": token, "name": "Sinksenfeesten", "starts_on": "2026-05-23",
        "ends_on": "2026-05-25",
    })
    assert marked.status_code == 303
    evaluated = admin.get(f"/dashboard/events/{event.id}").get_data(as_text=True)
    assert "During Kermis, about" in evaluated
    assert "Last year" in evaluated and "<svg" in evaluated
    assert EVENT[0].year == AFTER_END.year
