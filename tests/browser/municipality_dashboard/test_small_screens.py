"""The settings and campaign pages and a campaign's evaluation on a phone (390 px), and
the dashboard's menu and a campaign's evaluation on a tablet (820 px): nothing wider
than the screen (the campaign list scrolls in its own panel), and the menu in a row
rather than a column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, ViewportSize, expect
from sqlalchemy.orm import Session

from loyalty.models import Role, Scheme
from tests.browser.tablet import LOCALES, Tablet
from tests.campaign_data import LEAST_NOISE, generate, make_campaign, release_seeded
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_scheme, make_user

PHONE = ViewportSize(width=390, height=844)
TABLET = ViewportSize(width=820, height=1180)


def _screen(browser: Browser, live_server: LiveServer, lang: str,
            viewport: ViewportSize) -> Tablet:
    context = browser.new_context(viewport=viewport, locale=LOCALES[lang])
    context.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
    return Tablet(context, context.new_page(), live_server, lang)


def _admin(session: Session, *, campaign: bool = False) -> tuple[str, int | None]:
    scheme: Scheme = make_scheme(session)
    email = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    campaign_id = make_campaign(session, scheme).id if campaign else None
    session.commit()
    session.rollback()  # hold no read transaction open against the live server
    return email, campaign_id


def _evaluated_campaign(session: Session, **noise: Any) -> tuple[str, int]:
    """A generated campaign, its days released with ``noise`` (the scheme's privacy
    settings; none: its defaults): an admin's e-mail address and the campaign."""
    campaign, _sales = generate(session, 1.0, 2)
    scheme = session.get_one(Scheme, campaign.scheme_id)
    release_seeded(session, scheme, 2, **noise)
    email = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    campaign_id = campaign.id
    session.commit()
    session.rollback()  # hold no read transaction open against the live server
    return email, campaign_id


@pytest.fixture(params=["nl", "fr", "en"])
def phone(request: pytest.FixtureRequest, browser: Browser,
          live_server: LiveServer) -> Iterator[Tablet]:
    screen = _screen(browser, live_server, request.param, PHONE)
    yield screen
    screen.context.close()
    assert not screen.problems(), "\n".join(screen.problems())


def test_settings_and_campaigns_fit_a_phone(phone: Tablet, session: Session) -> None:
    email, campaign_id = _admin(session, campaign=True)
    phone.sign_in(email)
    for name, path in (("settings", "/dashboard/settings"),
                       ("campaigns", "/dashboard/campaigns"),
                       ("campaign", f"/dashboard/campaigns/{campaign_id}")):
        phone.goto(path)
        # check(): a screenshot, no horizontal overflow, nothing serious for axe-core.
        phone.check(f"dashboard-{name}-phone")
    # The list's last column is there, a sideways scroll of its own panel away.
    phone.goto("/dashboard/campaigns")
    region = phone.page.locator("main [role=region]")
    expect(region.locator("tbody tr")).to_have_count(1)
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")
    region.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    expect(region.locator("tbody td").last).to_be_in_viewport()


@pytest.mark.parametrize("lang", ["nl", "fr", "en"])
def test_the_menu_is_a_row_on_a_tablet(
    browser: Browser, live_server: LiveServer, session: Session, lang: str
) -> None:
    """At 820 px the menu took the space left beside the name and the e-mail address:
    in French one item a line, five rows."""
    email, _ = _admin(session)
    tablet = _screen(browser, live_server, lang, TABLET)
    try:
        tablet.sign_in(email)
        tablet.goto("/dashboard/settings")
        links = tablet.page.locator("header.bar nav a")
        expect(links).to_have_count(5)
        tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(5)) if box}
        assert len(tops) == 1, tops
        tablet.check("dashboard-settings-tablet")
    finally:
        tablet.context.close()
    assert not tablet.problems(), tablet.problems()


def test_a_campaign_evaluation_fits_a_tablet(
    browser: Browser, live_server: LiveServer, session: Session
) -> None:
    """Its table beside the chart was wider than the page at 820 px, in French, whose
    dates and headings are the longest."""
    email, campaign_id = _evaluated_campaign(session, **LEAST_NOISE)
    tablet = _screen(browser, live_server, "fr", TABLET)
    try:
        tablet.sign_in(email)
        tablet.goto(f"/dashboard/campaigns/{campaign_id}")
        page = tablet.page
        expect(page.locator(".side-by-side table tbody tr")).to_have_count(6)
        # The table under the chart, at the panel's full width (beside it, the demo's
        # September to November dates made the page 12 px too wide).
        chart = page.locator(".side-by-side figure").bounding_box()
        table = page.locator(".side-by-side table").bounding_box()
        assert chart and table and table["y"] >= chart["y"] + chart["height"], (chart, table)
        tablet.check("dashboard-campaign-evaluation-tablet")
    finally:
        tablet.context.close()
    assert not tablet.problems(), tablet.problems()


def test_a_campaign_evaluation_with_wide_margins_fits_a_phone(
    browser: Browser, live_server: LiveServer, session: Session
) -> None:
    """At the scheme's default noise the margins are as wide as the averages: on one
    line beside their average, the evaluation was 437 px wide at 390 (the demo's,
    464). French, whose headings and amounts are the longest."""
    email, campaign_id = _evaluated_campaign(session)  # the default noise: wide margins
    phone = _screen(browser, live_server, "fr", PHONE)
    try:
        phone.sign_in(email)
        phone.goto(f"/dashboard/campaigns/{campaign_id}")
        rows = phone.page.locator(".side-by-side table tbody tr")
        expect(rows).to_have_count(6)
        expect(rows.locator(".margin").first).to_contain_text("±")
        # check(): a screenshot, no horizontal overflow, nothing serious for axe-core.
        phone.check("dashboard-campaign-evaluation-phone")
    finally:
        phone.context.close()
    assert not phone.problems(), phone.problems()
