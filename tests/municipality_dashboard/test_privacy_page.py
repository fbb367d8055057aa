"""The dashboard's privacy page: the method, the scheme's privacy parameters, the
margins they give, and what this year's released days spent."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import campaign_release, generate, period_release, release
from loyalty.infra.db import utcnow
from loyalty.models import CampaignRelease, Scheme
from tests.campaign_data import make_campaign
from tests.factories import make_merchant
from tests.municipality_dashboard.conftest import Municipality, html


def test_the_privacy_page_shows_the_parameters_and_the_years_budget(
        app: Flask, session: Session, town: Municipality) -> None:
    scheme = session.get_one(Scheme, town.scheme.id)
    for sector in ("47.24", "47.11", "56.301"):
        make_merchant(session, scheme, sector=sector)
    generate.generate_events(session, scheme, 300, end=date.today() - timedelta(days=1),
                             days=9, seed=5)
    released = release.release(session, scheme, utcnow())
    by_period = period_release.release_periods(session, scheme, utcnow())
    spent = release.budget(session, scheme, date.today().year)
    periods = period_release.budget(session, scheme, date.today().year)
    session.commit()
    assert released.days >= 5
    # Nine days up to yesterday: the week of the first one ended three days ago or more.
    assert by_period.periods >= 1 and periods.periods_released >= 1

    page = html(town.analyst_client.get("/dashboard/privacy"))
    assert "Privacy of the statistics" in page
    assert "<th scope=\"row\">Privacy budget per day (epsilon)</th><td>1</td>" in page
    assert "<td>3</td>" in page and "€100.00" in page
    # One day's cell: noise of scale 3 / (1/12) = 36 purchases (six tables, two figures
    # each), 95% within 36 x ln 20.
    assert "± 108 purchases" in page
    assert f"Days released so far: {spent.days_released}," in page
    assert ("A whole year at this daily budget: 365." in page
            or "A whole year at this daily budget: 366." in page)
    assert "Campaign evaluations released this year: 0," in page

    # The periods' budget: 1 a period (five tables of noise of scale 5 for one shopper),
    # and the year's total of days and periods.
    assert ("<th scope=\"row\">Privacy budget per week, month, quarter or year (epsilon)</th>"
            "<td>1</td>") in page
    assert "± 15 shoppers" in page
    assert ("Weeks, months, quarters and years released so far: "
            f"{periods.periods_released}, together") in page
    in_year = period_release.periods_in_year(date.today().year)
    assert f"All weeks, months, quarters and the year itself at this budget: {in_year}." in page
    assert (f"A whole year in all, days and periods: {int(spent.epsilon_year) + in_year}."
            in page)

    dutch = html(town.analyst_client.get("/dashboard/privacy?lang=nl"))
    assert "Privacybudget per week, maand, kwartaal of jaar (epsilon)" in dutch
    assert "± 15 klanten" in dutch
    assert "Privacybudget per dag (epsilon)" in dutch and "± 108 aankopen" in dutch
    assert "€\xa0100,00" in dutch
    french = html(town.analyst_client.get("/dashboard/privacy?lang=fr"))
    assert "Budget de confidentialité par jour (epsilon)" in french
    assert "Budget de confidentialité par semaine, mois, trimestre ou année" in french

    index = html(town.analyst_client.get("/dashboard/reports"))
    assert 'href="/dashboard/privacy"' in index


def test_the_privacy_page_links_the_open_data_once_published(
        session: Session, town: Municipality) -> None:
    scheme = session.get_one(Scheme, town.scheme.id)
    link = f'href="/open-data/{scheme.slug}"'
    assert link not in html(town.analyst_client.get("/dashboard/privacy"))
    scheme.open_data = True
    session.commit()
    assert link in html(town.analyst_client.get("/dashboard/privacy"))


def test_a_campaign_release_adds_its_budget_to_the_years_total(
        session: Session, town: Municipality) -> None:
    scheme = session.get_one(Scheme, town.scheme.id)
    scheme.release_campaign_epsilon = 0.5
    campaign = make_campaign(session, scheme)
    # Windows of 28 days before and 21 during, in this year (the page's year).
    first = date(date.today().year, 1, 5)
    session.add(CampaignRelease(
        campaign_id=campaign.id, scheme_id=scheme.id, before_first=first,
        during_first=first + timedelta(days=28), during_last=first + timedelta(days=48),
        participating_shops=3, other_shops=3, epsilon=0.5, max_purchases=1,
        purchases_scale=2.0))
    session.commit()
    # Someone who shopped on each of the 49 days of its windows: 49 x 0.5.
    year = first.year
    assert campaign_release.budget(session, scheme.id, year) == campaign_release.Budget(1, 24.5)
    assert campaign_release.budget(session, scheme.id, year - 1).campaigns == 0

    page = html(town.analyst_client.get("/dashboard/privacy?lang=en"))
    assert ("<th scope=\"row\">Privacy budget of a campaign evaluation, per day of its weeks "
            "(epsilon)</th><td>0.5</td>") in page
    assert "Campaign evaluations released this year: 1, together at most 24.5 " in page
    assert "Together so far this year: a privacy budget of at most 24.5." in page
    dutch = html(town.analyst_client.get("/dashboard/privacy?lang=nl"))
    assert "Privacybudget van een campagne-evaluatie" in dutch
    french = html(town.analyst_client.get("/dashboard/privacy?lang=fr"))
    assert "une évaluation de campagne, par jour de ses semaines" in french
