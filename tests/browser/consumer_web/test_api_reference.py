"""The API reference read on a phone (a till builder in the shop): every operation
shown, nothing sticks out sideways, axe-core finds nothing serious, no script."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.consumer_web.phone import Phone


def test_the_api_reference_on_a_phone(phone: Phone) -> None:
    page = phone.page
    phone.goto("/api/v1/docs")
    expect(page.locator("h1")).to_have_text(phone.words("API reference"))
    expect(page.locator("#post-api-v1-claims h3")).to_have_text("POST /api/v1/claims")
    assert page.locator("script").count() == 0
    phone.check("api-reference-nl")
    page.locator("a[href='#post-api-v1-redemptions-code-confirm']").click()
    expect(page.locator("#post-api-v1-redemptions-code-confirm")).to_be_in_viewport()
    phone.check("api-reference-confirm-nl")
