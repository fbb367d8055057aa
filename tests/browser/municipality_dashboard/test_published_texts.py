"""The editor of the published texts on a phone-sized screen (390x844): an admin
previews and publishes, the page fits the screen and axe-core finds nothing
serious; no request leaves 127.0.0.1 (tests.browser.tablet's checks)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ViewportSize, expect
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.browser.tablet import LOCALES, Tablet
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_scheme, make_user

PHONE = ViewportSize(width=390, height=844)


@pytest.fixture
def small(browser: Browser, live_server: LiveServer) -> Iterator[Tablet]:
    """A phone's browser, in English, checked like the portal's tablets afterwards."""
    context = browser.new_context(viewport=PHONE, screen=PHONE, is_mobile=True,
                                  has_touch=True, locale=LOCALES["en"])
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
    small = Tablet(context, context.new_page(), live_server, "en")
    yield small
    context.close()
    problems = small.problems()
    assert not problems, "\n".join(problems)


def test_the_editor_on_a_phone(small: Tablet, session: Session) -> None:
    scheme = make_scheme(session)
    email = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    slug = scheme.slug
    session.rollback()
    small.sign_in(email)
    small.goto("/dashboard/texts")
    page = small.page
    small.check("dashboard-texts-phone")
    page.get_by_role("link", name="Nederlands").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice")
    text = page.get_by_role("textbox", name="Text")
    expect(text).to_have_value(re.compile(r"^# Wie is verantwoordelijk voor je gegevens\?"))
    small.check("dashboard-text-editor-phone")

    text.fill("")
    small.submit(page.get_by_role("button", name="Publish"), 422)
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#body-error")).to_have_text(
        "Write the text, or go back to the default text.")
    small.check("dashboard-text-editor-error-phone")

    text.fill(
        "# Onze privacyverklaring\n\nGegevens: https://www.gemeente.example/"
        "een-heel-lang-adres-zonder-spaties-dat-niet-op-een-telefoon-past\n\n- a\n- b")
    small.submit(page.get_by_role("button", name="Preview"))
    expect(page.locator(".preview h2")).to_have_text("Onze privacyverklaring")
    small.check("dashboard-text-preview-phone")
    small.submit(page.get_by_role("button", name="Publish"))
    expect(page.get_by_role("status")).to_contain_text("The text is published.")
    small.goto(f"/privacy/{slug}?lang=nl")
    expect(page.locator(".published-text h2")).to_have_text("Onze privacyverklaring")
