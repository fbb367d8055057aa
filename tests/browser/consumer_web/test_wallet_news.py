"""The town's news on a phone (390 px, Dutch, JavaScript on): the running campaign and the
town's message on the wallet, the bonus badge in the shop list, and "Meldingen aan" wired
to the browser's push permission (refused here, so the page says so). A server of its
own, with VAPID keys, so that the push option is offered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from loyalty.earning import campaigns
from loyalty.infra import webpush
from loyalty.infra.db import utcnow
from loyalty.town import messages
from tests.browser.consumer_web.flows import collect
from tests.browser.consumer_web.phone import LOCALES, PHONE_VIEWPORT, Phone
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer, Mailbox, serve
from tests.factories import make_scheme, make_shop


@pytest.fixture
def push_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
) -> Iterator[LiveServer]:
    private, public = webpush.generate_keys()
    env = {"VAPID_PRIVATE_KEY": private, "VAPID_PUBLIC_KEY": public,
           "VAPID_SUBJECT": "mailto:gemeente@example.be"}
    with serve(database_url, tmp_path_factory, smtp_server[2], env, workers=1) as server:
        yield server


def test_the_wallet_shows_the_towns_news_and_offers_notifications(
    browser: Browser, session: Session, push_server: LiveServer
) -> None:
    scheme = make_scheme(session)
    bakery = make_shop(session, scheme, name="Bakkerij De Smet", sector="47.24")
    make_shop(session, scheme, name="Boekhandel Het Anker", sector="47.61")
    now = utcnow()
    campaigns.create_campaign(
        session, scheme, name="Bakkersweek", starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=4), budget_cents=100_000, multiplier_pct=200,
        sectors_=["47.24"], now=now)
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    messages.post_message(
        session, scheme, title="Kerstmarkt op de Markt",
        body="Zaterdag en zondag zijn alle zaken open tot 20 uur, met een extra lange zin "
             "die op een smalle telefoon netjes moet afbreken.",
        starts_on=today, ends_on=today + timedelta(days=3), by=None, now=now)
    session.commit()

    context = browser.new_context(viewport=PHONE_VIEWPORT, screen=PHONE_VIEWPORT,
                                  device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale=LOCALES["nl"])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    phone = Phone(context, context.new_page(), push_server, "nl", True)
    try:
        page, w = phone.page, phone.words
        collect(phone, bakery, 2000)
        phone.goto("/wallet")
        news = page.get_by_role("region", name=w("News from the town"))
        expect(news).to_contain_text("Dubbele punten bij Brood en banket tot ")
        expect(news.get_by_role("heading", name="Kerstmarkt op de Markt")).to_be_visible()
        turn_on = page.get_by_role("button", name=w("Turn notifications on"))
        expect(turn_on).to_be_visible()  # push.js shows it where the browser can push
        expect(page.get_by_label(w("points I collected"))).to_be_checked()
        phone.check("wallet-news")
        # Headless Chromium refuses the permission: the shopper is told, nothing is stored.
        turn_on.click()
        expect(page.get_by_role("alert")).to_have_text(w(
            "Notifications could not be turned on: allow them for this site in your "
            "browser, and tick at least one topic."))

        phone.goto("/shops")
        card = page.locator("li.card", has_text="Bakkerij De Smet")
        expect(card.locator(".badge")).to_have_text(w("Double points"))
        expect(page.locator("li.card", has_text="Boekhandel Het Anker").locator(".badge")
               ).to_have_count(0)
        phone.check("shops-news")
    finally:
        context.close()
    assert not phone.problems(), phone.problems()
