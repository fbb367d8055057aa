"""The till and the redeem screen in Dutch, as a Flemish shop sees them: for the README.

Screenshots of every step go to test-artifacts/screenshots/portal-*-nl.png; those
of the till and of the redeem screen are copied to docs/screenshots/.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.models import Merchant, Role
from tests.browser.merchant_portal.conftest import NewTablet, make_portal_shop
from tests.browser.tablet import (
    cancel_sale,
    claim_token,
    collect,
    euro,
    new_wallet,
    spend_code,
    till_sale,
)
from tests.conftest import LiveServer
from tests.factories import PASSWORD, make_scheme


def test_dutch_till_and_redeem_screens(
    new_tablet: NewTablet, session: Session, live_server: LiveServer
) -> None:
    scheme = make_scheme(session)
    bakery = make_portal_shop(session, scheme, name="Bakkerij De Zoete Inval")
    # A cashier whose address reads well in the README's pictures.
    cashier = staff.create_user(
        session,
        scheme,
        email="kassa@dezoeteinval.be",
        password=PASSWORD,
        role=Role.CASHIER,
        merchant=session.get_one(Merchant, bakery.merchant_id),
    )
    email = cashier.email
    session.commit()  # and so ends the transaction

    # This morning's sales from the till: collected, waiting and cancelled.
    wallet = new_wallet(live_server, bakery.scheme_slug)
    for cents in (1250, 4680):
        sale = till_sale(live_server, bakery.till_key, amount_cents=cents)
        collect(live_server, wallet, sale["token"])
    cancelled = till_sale(live_server, bakery.till_key, amount_cents=999)
    cancel_sale(live_server, bakery.till_key, cancelled["token"])
    till_sale(live_server, bakery.till_key, amount_cents=875)

    tablet = new_tablet("nl")
    page = tablet.page
    tablet.sign_in(email)
    expect(page).to_have_url(re.compile(r"/portal/till$"))
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator("table tbody tr")).to_have_count(4)
    tablet.press_keys("2350")
    expect(page.locator("#amount")).to_have_value("23,50")
    tablet.check("till", docs_name="portal-till.png")

    tablet.submit(page.locator(".sale-form button[type=submit]"))
    expect(page.locator(".amount-line")).to_contain_text(euro(2350, "nl"))
    token = claim_token(tablet.qr_text(page.locator(".sale-screen .qr")), live_server)
    tablet.check("sale")
    collect(live_server, wallet, token)
    expect(page.locator(".sale-screen")).to_have_attribute("data-state", "claimed")
    tablet.check("claimed")

    code = spend_code(live_server, wallet, points=40)["code"]
    tablet.goto("/portal/redeem")
    page.locator(".code-form input[name=code]").fill(f"{code[:4]} {code[4:]}")
    tablet.check("redeem", docs_name="portal-redeem.png")
    tablet.submit(page.locator(".code-form button[type=submit]"))
    expect(page.locator("h1")).to_contain_text(euro(200, "nl"))
    tablet.check("redeem-code")
    tablet.submit(page.locator(".redeem-panel form button[type=submit]"))
    expect(page.locator("h1.big-ok")).to_contain_text(euro(200, "nl"))
    tablet.check("redeem-done")
