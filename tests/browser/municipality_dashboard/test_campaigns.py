"""The campaign evaluation in a real browser at desktop size: screenshot and axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ViewportSize, expect
from sqlalchemy.orm import Session

from loyalty.models import Role, Scheme
from tests.browser.tablet import LOCALES, Tablet
from tests.campaign_data import LEAST_NOISE, event_data, generate, release_seeded
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_user

DESKTOP = ViewportSize(width=1280, height=800)


@pytest.fixture
def desktop(browser: Browser, live_server: LiveServer) -> Iterator[Tablet]:
    """An office PC at 1280x800 in Dutch; afterwards: no other host, script error or
    CSP violation on any page."""
    context = browser.new_context(
        viewport=DESKTOP, screen=DESKTOP, device_scale_factor=1, locale=LOCALES["nl"]
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    screen = Tablet(context, context.new_page(), live_server, "nl")
    yield screen
    context.close()
    assert not screen.problems(), "\n".join(screen.problems())


def test_campaign_evaluation_page(desktop: Tablet, session: Session) -> None:
    # A doubling: under the released noise a +15% lift is not told apart from zero
    # (tests/campaign_data.LEAST_NOISE), and the page should show a clear result.
    campaign, _sales = generate(session, 1.0, 2)
    scheme = session.get_one(Scheme, campaign.scheme_id)
    release_seeded(session, scheme, 2, **LEAST_NOISE)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    _scheme, event = event_data(session, 0.30, 7)
    release_seeded(session, _scheme, 7, **LEAST_NOISE)
    analyst = make_user(session, _scheme, Role.MUNICIPALITY_ANALYST)
    campaign_id, event_id, admin_email, analyst_email = (
        campaign.id, event.id, admin.email, analyst.email
    )
    session.commit()

    desktop.sign_in(admin_email)
    desktop.goto(f"/dashboard/campaigns/{campaign_id}")
    page = desktop.page
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator(".summary")).to_contain_text("meer bestedingen in deelnemende zaken")
    expect(page.locator("figure.chart svg[role=img]")).to_be_visible()
    expect(page.locator(".side-by-side table tbody tr")).to_have_count(6)
    desktop.check("campaign-evaluation", docs_name="dashboard-campaign-evaluation.png")

    desktop.goto("/dashboard/campaigns")
    expect(page.locator("table tbody tr")).to_have_count(1)
    desktop.check("campaigns")
    desktop.goto("/dashboard/campaigns/new")
    desktop.check("campaign-new")
    # A form sent back with an error keeps its accessibility.
    page.locator("input[name=name]").fill("Kerstactie")
    with desktop.provoking(422):
        desktop.submit(page.locator("main form button[type=submit]"), status=422)
    expect(page.locator(".error").first).to_be_visible()
    desktop.check("campaign-new-errors")

    desktop.page.context.clear_cookies()
    desktop.sign_in(analyst_email)
    desktop.goto(f"/dashboard/events/{event_id}")
    expect(page.locator(".summary")).to_contain_text("Tijdens Kermis")
    desktop.check("event-evaluation")
