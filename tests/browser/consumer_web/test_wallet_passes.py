"""The wallet apps' buttons on a phone: readable, inside the screen, and the pass downloads."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from tests.browser.consumer_web.conftest import TIMEOUT_MS
from tests.browser.consumer_web.flows import collect
from tests.browser.consumer_web.phone import LOCALES, PHONE_VIEWPORT, Phone
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_shop


def test_the_wallet_apps_buttons_on_a_phone(
    browser: Browser, pass_server: LiveServer, session: Session, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport=PHONE_VIEWPORT, screen=PHONE_VIEWPORT, is_mobile=True, has_touch=True,
        locale=LOCALES["fr"], accept_downloads=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    phone = Phone(context, context.new_page(), pass_server, "fr", True)
    page, w = phone.page, phone.words
    try:
        shop = make_shop(session, make_scheme(session))
        session.rollback()
        collect(phone, shop, 1000)
        phone.goto("/wallet")
        apple = page.get_by_role("link", name=w("Add to Apple Wallet"))
        google = page.get_by_role("link", name=w("Save to Google Wallet"))
        expect(apple).to_be_visible()
        expect(google).to_have_attribute("href", "/wallet/google-wallet")
        phone.check("wallet-passes-fr")  # axe, and nothing wider than the phone

        with page.expect_download() as started:
            apple.click()
        path = tmp_path / "pass.pkpass"
        started.value.save_as(path)
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
            pass_json = json.loads(archive.read("pass.json"))
        phone.goto("/wallet/card")
        shown = page.locator(".card-number").inner_text().replace(" ", "")
        assert pass_json["barcodes"][0]["message"] == shown
        assert "webServiceURL" not in pass_json  # an http site: the Wallet app would refuse it
    finally:
        context.close()
    assert not phone.problems(), phone.problems()
