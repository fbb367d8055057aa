"""The privacy page in a real browser on an office screen, in each language: axe-core
finds nothing serious, nothing overflows, and the report tabs still fit one row."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ViewportSize, expect
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.browser.tablet import LOCALES, Tablet
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_scheme, make_user

DESKTOP = ViewportSize(width=1280, height=800)
TITLES = {"nl": "Privacy van de statistieken", "fr": "Confidentialité des statistiques",
          "en": "Privacy of the statistics"}


@pytest.mark.parametrize("lang", ["nl", "fr", "en"])
def test_the_privacy_page_reads_well_in_every_language(
    browser: Browser, live_server: LiveServer, session: Session, lang: str
) -> None:
    scheme = make_scheme(session)
    email = make_user(session, scheme, Role.MUNICIPALITY_ANALYST).email
    session.commit()
    context = browser.new_context(viewport=DESKTOP, locale=LOCALES[lang])
    context.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    desk = Tablet(context, context.new_page(), live_server, lang)
    try:
        desk.sign_in(email)
        desk.goto("/dashboard/reports")
        desk.page.locator("aside a[href='/dashboard/privacy']").click()
        expect(desk.page.get_by_role("heading", level=1)).to_have_text(TITLES[lang])
        desk.check(f"dashboard-privacy-{lang}")
    finally:
        context.close()
    assert not desk.problems(), desk.problems()
