"""Who may do what: owner pages, CSRF tokens, and the throttle on wrong passwords."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from loyalty.access import staff
from tests.browser.merchant_portal.conftest import NewTablet, PortalShop
from tests.browser.tablet import collect, new_wallet, till_sale
from tests.conftest import LiveServer

# The owner's pages, in menu order, as the merchant portal's menu names them.
OWNER_PAGES = {
    "/portal/figures": "Figures",
    "/portal/stamp-cards": "Stamp cards",
    "/portal/printed-cards": "Printed cards",
    "/portal/team": "Team and tills",
    "/portal/funding": "Prepaid balance",
    "/portal/statements": "Statements",
    "/portal/profile": "Shop profile",
}


def test_cashier_cannot_reach_the_owner_pages(
    new_tablet: NewTablet, portal_shop: PortalShop, live_server: LiveServer
) -> None:
    # A collected sale, so that the figures have a history to show.
    sale = till_sale(live_server, portal_shop.till_key, amount_cents=1999)
    collect(live_server, new_wallet(live_server, portal_shop.scheme_slug), sale["token"])

    owner = new_tablet("en")
    owner.sign_in(portal_shop.owner_email)
    menu = owner.page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link")).to_have_text(["Till", "Figures", "Shop"])
    for path, name in OWNER_PAGES.items():
        owner.goto(path)
        # Each page is a tab of its menu item, marked as the page shown.
        tab = owner.page.locator("nav.subnav").get_by_role("link", name=name, exact=True)
        expect(tab).to_have_attribute("href", path)
        expect(tab).to_have_attribute("aria-current", "page")
    owner.goto("/portal/figures")
    expect(owner.page.locator("#history-table tbody tr")).to_have_count(1)
    owner.check("figures")

    cashier = new_tablet("en")
    cashier.sign_in(portal_shop.cashier_email)
    menu = cashier.page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link")).to_have_text(["Till", "Redeem"])
    token = cashier.csrf_token()
    for path in OWNER_PAGES:
        cashier.goto(path, 403)
    # Nor can a cashier print cards (and PINs) by posting the form, token and all.
    answer = cashier.page.request.post(
        live_server.url + "/portal/printed-cards",
        form={"csrf_token": token, "count": "1"},
        max_redirects=0,
    )
    assert answer.status == 403, answer.status
    assert "card-number" not in answer.text()


def test_forms_without_the_csrf_token_are_refused(
    new_tablet: NewTablet, portal_shop: PortalShop, live_server: LiveServer
) -> None:
    tablet = new_tablet("en")
    tablet.sign_in(portal_shop.cashier_email)
    token = tablet.csrf_token()
    rows = tablet.page.locator("table tbody tr")
    expect(tablet.page.get_by_text("No sales yet today.")).to_be_visible()

    # The browser's own cookies, signed in, but no token: as a forged cross-site form.
    request = tablet.page.request
    till = live_server.url + "/portal/till"
    refused = request.post(till, form={"amount": "12,00"}, max_redirects=0)
    assert refused.status == 400, refused.status
    wrong = request.post(till, form={"amount": "12,00", "csrf_token": "x" + token}, max_redirects=0)
    assert wrong.status == 400, wrong.status
    tablet.goto("/portal/till")
    expect(rows).to_have_count(0)

    # With the token the same request makes a sale: it was only the token.
    made = request.post(till, form={"amount": "12,00", "csrf_token": token}, max_redirects=0)
    assert made.status == 303, made.status
    sale = made.headers["location"]
    assert re.fullmatch(r"/portal/till/sales/\d+", sale), sale
    cancel = request.post(live_server.url + sale + "/cancel", form={}, max_redirects=0)
    assert cancel.status == 400, cancel.status
    status = request.get(live_server.url + sale + "/status").json()
    assert status["status"] == "open"
    tablet.goto("/portal/till")
    expect(rows).to_have_count(1)

    # Signing out needs the token too.
    assert request.post(live_server.url + "/logout", form={}, max_redirects=0).status == 400
    tablet.goto("/portal/till")


def test_wrong_passwords_slow_the_login_down(
    new_tablet: NewTablet, portal_shop: PortalShop
) -> None:
    tablet = new_tablet("en")
    page = tablet.page
    error = page.locator("#password-error")
    for _attempt in range(staff.FREE_FAILURES_PER_ACCOUNT):
        tablet.sign_in(portal_shop.cashier_email, "not-the-password", status=401)
        expect(error).to_have_text("Wrong e-mail address or password.")
    tablet.check("login-wrong")
    tablet.sign_in(portal_shop.cashier_email, status=429)
    expect(error).to_have_text("Too many failed attempts. Try again in 1 minute.")
    expect(page.locator("input[name=password]")).to_have_attribute("aria-invalid", "true")
    tablet.check("login-throttled")
    # Not signed in: the till sends the browser back to the login page.
    tablet.goto("/portal/till")
    expect(page).to_have_url(re.compile(r"/login\?next="))
