"""Report pages in chromium on an office screen (1280x800): axe-core finds nothing
serious, the page keeps to our own host, and the README gets its picture
(UPDATE_SCREENSHOTS=1 copies it to docs/screenshots/)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from babel.dates import format_interval
from playwright.sync_api import Browser, ViewportSize, expect
from sqlalchemy.orm import Session

from loyalty.analytics import generate, release
from loyalty.models import Role
from tests.browser.tablet import LOCALES, Tablet
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_merchant, make_scheme, make_user

DESKTOP = ViewportSize(width=1280, height=800)
SHOPS = [
    ("Bakkerij De Smet", "47.24"), ("Chocolaterie Reynaert", "47.24"),
    ("Slagerij Van Hoeylandt", "47.22"), ("Beenhouwerij Meerdonk", "47.22"),
    ("Wijnhandel De Kelder", "47.25"), ("Superette Sint-Pauwels", "47.11"),
    ("Frituur 't Pleintje", "56.102"), ("Restaurant Het Hof", "56.101"),
    ("Café De Zwaan", "56.301"), ("Kledingzaak Lien", "47.71"),
    ("Schoenen Verstraeten", "47.72"), ("Bloemen Margriet", "47.76"),
    ("Boekhandel Het Leesrijk", "47.61"), ("Fietsen De Klinge", "47.64"),
    ("Speelgoed Kadootje", "47.65"), ("Apotheek Meerdonk", "47.73"),
    ("Drogisterij De Klinge", "47.75"), ("Doe-het-zelf Baeten", "47.52"),
    ("Kapsalon Nathalie", "96.021"), ("Optiek Waasland", "47.782"),
]


def test_a_report_page_on_a_desktop(
    browser: Browser, live_server: LiveServer, session: Session
) -> None:
    scheme = make_scheme(session, nis_code="46020",
                         villages=["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"])
    for name, sector in SHOPS:
        make_merchant(session, scheme, name=name, sector=sector)
    # Up to the end of last month, so the overview (last month) has figures too.
    end = date.today().replace(day=1) - timedelta(days=1)
    month = f"from={end.replace(day=1).isoformat()}&to={end.isoformat()}"
    generate.generate_events(session, scheme, 6000, end=end, days=120, seed=9170,
                             shoppers=400)
    release.release(session, scheme, datetime.now(UTC))  # the nightly job, up to yesterday
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    email = analyst.email
    session.commit()
    session.rollback()  # hold no transaction while the live server works

    context = browser.new_context(viewport=DESKTOP, screen=DESKTOP, device_scale_factor=1,
                                  locale=LOCALES["nl"])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    desk = Tablet(context, context.new_page(), live_server, "nl")
    try:
        page = desk.page
        desk.sign_in(email)
        desk.goto("/dashboard")
        expect(page.locator("h1")).to_be_visible()
        desk.check("dashboard-overview", docs_name="dashboard-overview.png")

        desk.goto("/dashboard/reports")
        expect(page.locator("h1")).to_have_text("Rapporten")
        desk.check("dashboard-reports")

        desk.goto(f"/dashboard/reports/weekdays?{month}")
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        chart = page.locator("svg[role=img]")
        expect(chart).to_have_count(1)
        expect(chart.locator("title").first).to_have_text(re.compile("Weekdagprofiel"))
        # The table beside the chart: the seven weekdays, then the total.
        expect(page.locator("table.figures tbody tr")).to_have_count(7)
        expect(page.locator("table.figures tfoot")).to_contain_text("Totaal")
        expect(page.get_by_text("k = 10").first).to_be_visible()
        desk.check("dashboard-report", docs_name="dashboard-report.png")

        # Printed: no menu or controls, the whole table on the paper, and the
        # definition and the privacy rules on it too.
        expect(page.get_by_role("button", name="Afdrukken")).to_be_visible()
        page.emulate_media(media="print")
        expect(page.locator("header.bar")).to_be_hidden()
        expect(page.locator("form.period")).to_be_hidden()
        expect(page.get_by_role("heading", name="Definitie")).to_be_visible()
        expect(page.get_by_text("Privacyregels (k = 10)")).to_be_visible()
        expect(page.locator(".print-only")).to_contain_text(
            format_interval(end.replace(day=1), end, "yMMMd", locale="nl_BE"))
        clipped = page.evaluate(
            "[...document.querySelectorAll('.table-scroll')]"
            ".some(e => e.scrollWidth > e.clientWidth + 1)"
        )
        assert not clipped
        page.emulate_media(media="screen")

        desk.goto(f"/dashboard/reports/heatmap?{month}")
        expect(page.locator("svg[role=img] g rect").first).to_be_visible()
        desk.check("dashboard-heatmap")

        # A bad period is a friendly message on the page, not an error page.
        desk.goto("/dashboard/reports/weekdays?from=2026-09-30&to=2026-09-01", status=400)
        expect(page.get_by_role("alert")).to_be_visible()

        # On a phone the wide tables scroll inside their own region; the page
        # itself is no wider than the screen.
        page.set_viewport_size(ViewportSize(width=390, height=844))
        desk.goto(f"/dashboard/reports/home-areas?{month}")
        expect(page.locator("table.figures")).to_be_visible()
        desk.check("dashboard-report-phone")
    finally:
        context.close()
    assert not desk.problems(), desk.problems()
