"""The settings and fraud-flag pages in a real browser on an office screen (1280x800):
they work by keyboard and mouse, show errors next to the field, and axe-core finds
nothing serious. No request leaves 127.0.0.1 (checked by tests.browser_portal's tablet)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import Browser, ViewportSize, expect
from sqlalchemy.orm import Session

from loyalty.models import FraudFlag, Role, Scheme
from loyalty.shoppers import wallets
from tests.browser.tablet import LOCALES, Tablet
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.factories import make_merchant, make_scheme, make_user

DESKTOP = ViewportSize(width=1280, height=800)


@pytest.fixture
def desk(browser: Browser, live_server: LiveServer) -> Iterator[Tablet]:
    """An office PC's browser, in English; checked like the portal's tablets afterwards."""
    context = browser.new_context(viewport=DESKTOP, locale=LOCALES["en"])
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
    desk = Tablet(context, context.new_page(), live_server, "en")
    yield desk
    context.close()
    problems = desk.problems()
    assert not problems, "\n".join(problems)


def _town(session: Session) -> tuple[str, int, int]:
    """A scheme with the demo's villages, an admin, a shop and two open flags."""
    scheme: Scheme = make_scheme(
        session, villages=["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"]
    )
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    shop = make_merchant(session, scheme, name="Frituur 't Pleintje")
    wallet = wallets.create_wallet(session, scheme).wallet
    session.flush()
    wallet_flag = FraudFlag(
        scheme_id=scheme.id,
        rule="wallet_claims_at_shop",
        subject_type="wallet",
        subject_id=wallet.id,
        merchant_id=shop.id,
        day=date(2026, 11, 26),
        reason="r",
        evidence={"claims": 8, "points": 96, "limit": 5},
    )
    shop_flag = FraudFlag(
        scheme_id=scheme.id,
        rule="few_wallets_claim_shop_points",
        subject_type="merchant",
        subject_id=shop.id,
        merchant_id=shop.id,
        day=date(2026, 11, 26),
        reason="r",
        evidence={
            "claims": 12,
            "points": 360,
            "wallets": 2,
            "top_wallets": 2,
            "top_share_pct": 100.0,
            "days": 30,
        },
    )
    session.add_all([wallet_flag, shop_flag])
    session.commit()
    made = (admin.email, wallet_flag.id, wallet.id)
    session.rollback()  # hold no read transaction open against the live server
    return made


def test_settings_page_saves_and_shows_errors_by_the_field(desk: Tablet, session: Session) -> None:
    email, _flag, _wallet = _town(session)
    desk.sign_in(email)
    desk.goto("/dashboard/settings")
    page = desk.page
    expect(page.get_by_label("Villages (one a line)")).to_have_value(
        "Sint-Gillis-Waas\nDe Klinge\nMeerdonk\nSint-Pauwels"
    )
    desk.check("dashboard-settings")

    page.get_by_label("Smallest number of shoppers in a report figure (k)").fill("3")
    page.get_by_label("Number of inhabitants").fill("20.135")
    desk.submit(page.get_by_role("button", name="Save the settings"), 422)
    k = page.get_by_label("Smallest number of shoppers in a report figure (k)")
    expect(k).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#k_anonymity-error")).to_have_text("Between 5 and 1000.")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    desk.check("dashboard-settings-error")

    k.fill("12")
    page.get_by_label("Share our totals per inhabitant").check()
    desk.submit(page.get_by_role("button", name="Save the settings"))
    expect(page.get_by_role("status")).to_have_text("The settings are saved.")
    expect(page.get_by_label("Number of inhabitants")).to_have_value("20135")
    expect(page.get_by_label("Share our totals per inhabitant")).to_be_checked()


def test_flags_page_dismisses_with_a_note_and_freezes_a_wallet(
    desk: Tablet, session: Session
) -> None:
    email, flag_id, wallet_id = _town(session)
    desk.sign_in(email)
    desk.goto("/dashboard/fraud")
    page = desk.page
    expect(page.get_by_role("heading", name="2 flags")).to_be_visible()
    expect(
        page.get_by_text(f"Wallet #{wallet_id} collected points 8 times in one day")
    ).to_be_visible()
    desk.check("dashboard-fraud")

    # Dismissing needs a note: without one, the error sits by that flag's note field.
    other = page.locator("article", has_text="went to 2 of its 2 wallets")
    desk.submit(other.get_by_role("button", name="Dismiss"), 422)
    other = page.locator("article", has_text="went to 2 of its 2 wallets")
    expect(other.get_by_role("textbox", name="Note")).to_have_attribute("aria-invalid", "true")
    desk.check("dashboard-fraud-error")
    other.get_by_role("textbox", name="Note").fill("Owner's family; checked with the shop.")
    desk.submit(other.get_by_role("button", name="Dismiss"))
    expect(page.get_by_role("status")).to_have_text("The flag is dismissed.")

    flagged = page.locator("article", has_text=f"Wallet #{wallet_id}")
    desk.submit(flagged.get_by_role("button", name=f"Freeze wallet #{wallet_id}"))
    # A page of its own asks first, in the site's look (checked by axe and for overflow).
    expect(page.get_by_role("heading", name=f"Freeze wallet #{wallet_id}?")).to_be_visible()
    desk.check("dashboard-confirm-freeze")
    desk.submit(page.get_by_role("button", name="Yes, freeze"))
    expect(page.get_by_role("status")).to_contain_text("The wallet is frozen")
    expect(page.get_by_role("heading", name="0 flags")).to_be_visible()
    desk.goto("/dashboard/audit")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("Wallet frozen")
    expect(page.locator("tbody")).to_contain_text("Fraud flag dismissed")
    desk.check("dashboard-audit")
    assert flag_id


@pytest.mark.parametrize("lang", ["nl", "fr", "en"])
def test_the_dashboard_menu_is_one_row_on_an_office_screen(
    browser: Browser, live_server: LiveServer, session: Session, lang: str
) -> None:
    """Five menu items, the e-mail address and "sign out" fit one row at 1280 px in every
    language, so every page starts at the top (French used to wrap to a second row)."""
    scheme = make_scheme(session)
    email = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    session.commit()
    context = browser.new_context(viewport=DESKTOP, locale=LOCALES[lang])
    context.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    desk = Tablet(context, context.new_page(), live_server, lang)
    try:
        desk.sign_in(email)
        desk.goto("/dashboard/audit")
        links = desk.page.locator("header.bar nav a")
        expect(links).to_have_count(5)
        tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(5)) if box}
        assert len(tops) == 1, tops
        bar = desk.page.locator("header.bar").bounding_box()
        assert bar is not None and bar["height"] < 70, bar
    finally:
        context.close()
    assert not desk.problems(), desk.problems()
