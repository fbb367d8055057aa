"""The till during an outage: the network cut, a sale still gets a QR code from the
till's reserve; back online the sale is sent, and the shopper's phone collects
its points."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.browser.consumer_web.flows import expect_wallet
from tests.browser.consumer_web.phone import PHONE_VIEWPORT, Phone
from tests.browser.merchant_portal.conftest import NewTablet, PortalShop
from tests.browser.tablet import LOCALES, claim_token, euro
from tests.conftest import BROWSER_TIMEOUT_MS, LiveServer
from tests.qrdecode import decode_svg

OFFLINE = "Offline: this code is recorded as soon as the connection is back."


def test_the_till_gives_points_offline_and_sends_the_sale_when_back(
    new_tablet: NewTablet, portal_shop: PortalShop, live_server: LiveServer,
    browser: Browser,
) -> None:
    tablet = new_tablet("en")
    page = tablet.page
    tablet.sign_in(portal_shop.cashier_email)
    expect(page).to_have_url(re.compile(r"/portal/till$"))
    reserve = page.locator(".offline-till")
    # Online, the till fetches its batch.
    expect(reserve).to_have_attribute("data-codes", "10")
    expect(page.locator(".offline-status")).to_have_text("Offline codes ready: 10")
    # Its service worker keeps the page for loading offline. (Reloading with the
    # network cut works, but Chromium's offline emulation fails the worker's
    # navigation now and then, so the test does not reload.)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    tablet.context.set_offline(True)
    expect(reserve).to_have_attribute("data-codes", "10")
    expect(page.locator(".offline-status")).to_contain_text("Offline: sales get a code")

    # A large amount is confirmed first, as online.
    amount = page.get_by_label("Amount of the sale (€)")
    tablet.press_keys("99900")
    page.get_by_role("button", name="Give points").click()
    expect(page.locator(".offline-error")).to_have_text(
        f"{euro(99900)}: is this amount right? Give points again to confirm."
    )
    expect(reserve).to_have_attribute("data-queued", "0")
    amount.fill("")
    tablet.press_keys("2350")
    page.get_by_role("button", name="Give points").click()
    screen = page.locator(".offline-sale")
    expect(screen).to_be_visible()
    expect(screen).to_contain_text(OFFLINE)
    expect(screen.locator(".amount-line")).to_have_text(f"Sale of {euro(2350)}")
    svg = screen.locator(".qr svg").evaluate("svg => svg.outerHTML")
    [url] = decode_svg(svg)
    token = claim_token(url, live_server)
    assert tablet.qr_text(screen.locator(".qr")) == url  # as a camera reads the screen
    expect(reserve).to_have_attribute("data-queued", "1")
    expect(reserve).to_have_attribute("data-codes", "9")
    tablet.check("offline-sale")
    page.get_by_role("button", name="Next sale").click()
    expect(amount).to_have_value("")

    # Back online: the queue is sent and the reserve refilled, without a reload.
    tablet.context.set_offline(False)
    expect(reserve).to_have_attribute("data-queued", "0", timeout=10_000)
    expect(reserve).to_have_attribute("data-codes", "10")
    expect(page.locator(".offline-status")).to_have_text("Offline codes ready: 10")

    # The shopper's phone opens the code and collects the sale's points.
    context = browser.new_context(viewport=PHONE_VIEWPORT, screen=PHONE_VIEWPORT,
                                  is_mobile=True, has_touch=True, locale=LOCALES["en"])
    context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url}])
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    phone = Phone(context, context.new_page(), live_server, "en", True)
    phone.goto(f"/c/{token}")
    phone.page.get_by_role("button", name=phone.words("Collect points")).click()
    expect(phone.page.locator("h1")).to_contain_text(portal_shop.name)
    phone.goto("/wallet")
    expect_wallet(phone, 23)
    context.close()
    assert not phone.problems(), phone.problems()
