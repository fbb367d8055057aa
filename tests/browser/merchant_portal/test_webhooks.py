"""The webhooks page in the browser: the owner adds one and sees its secret once,
on a tablet and on a phone; axe-core and the overflow check on each."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.merchant_portal.conftest import NewTablet, PortalShop


def test_an_owner_adds_a_webhook_on_a_tablet_and_a_phone(
    new_tablet: NewTablet, portal_shop: PortalShop
) -> None:
    shop = new_tablet("en")
    shop.sign_in(portal_shop.owner_email)
    shop.goto("/portal/webhooks")
    shop.page.get_by_label("Address (URL)").fill("http://kassa.example.be/events")
    shop.page.get_by_label("A shopper collected the points of a sale").check()
    shop.submit(shop.page.get_by_role("button", name="Add the webhook"), 422)
    expect(shop.page.locator("#address-error")).to_have_text(
        "The address must start with https://.")
    shop.check("webhooks-error")
    shop.page.get_by_label("Address (URL)").fill(
        "https://kassa.example.be/lokaal-sparen/events/with-a-rather-long-path")
    shop.page.get_by_label("A sale was corrected").check()
    shop.submit(shop.page.get_by_role("button", name="Add the webhook"), 201)
    expect(shop.page.get_by_role("textbox", name="Secret", exact=True)).to_have_value(
        re.compile(r"^lswh_[0-9a-f]{48}$"))
    shop.check("webhooks")
    shop.page.set_viewport_size({"width": 390, "height": 844})
    shop.goto("/portal/webhooks")
    expect(shop.page.get_by_role("cell", name="claim.collected, sale.reversed")).to_be_visible()
    shop.check("webhooks-phone")
