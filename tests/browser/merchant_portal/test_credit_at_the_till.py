"""Town money end to end in Chromium: a granted credit and points spent on one code on
the phone, confirmed at another shop's till, and the shop's statement after the month's
settlement showing the credit apart from the points."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Scheme
from loyalty.money import grants
from loyalty.money.settlement import monthly, periods
from tests.browser.consumer_web.conftest import NewPhone, new_phone  # noqa: F401
from tests.browser.consumer_web.flows import collect
from tests.browser.merchant_portal.conftest import NewTablet, make_portal_shop
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_shop
from tests.stripe_stub import StripeStub


def test_points_and_credit_on_one_code_are_confirmed_at_another_shop_and_settled(
    new_phone: NewPhone, new_tablet: NewTablet, session: Session,  # noqa: F811
    live_server: LiveServer,
) -> None:
    scheme = make_scheme(session, point_value_cents=5)
    bakery = make_shop(session, scheme)  # where the points are earned
    taker = make_portal_shop(session, scheme)  # where they are spent with the credit
    now = utcnow()
    grant = grants.create_grant(
        session, scheme, name="Geboortepremie", amount_cents=1250, budget_cents=12_500,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3), who="anyone",
        now=now,
    )
    session.commit()
    grant_id, scheme_id = grant.id, scheme.id

    phone = new_phone("nl")
    phone.goto(f"/g/{grant_id}")
    with phone.page.expect_navigation():
        phone.page.get_by_role("button", name="Premie aanvragen").click()
    expect(phone.page.locator("main")).to_contain_text("€ 12,50")
    collect(phone, bakery, 4000)  # 40 points
    phone.goto("/wallet")
    page = phone.page
    page.get_by_label("Punten om in te ruilen").fill("20")
    page.get_by_label("Tegoed te besteden (€)").fill("7,50")
    phone.check("wallet-spend-credit")
    page.get_by_role("button", name="Inruilcode aanvragen").click()
    expect(page).to_have_url(re.compile(r"/wallet/code/\d+$"))
    code = page.url.rsplit("/", 1)[1]
    expect(page.locator(".value")).to_have_text("€ 8,50 korting: 20 punten en € 7,50 tegoed")

    till = new_tablet("en")
    till.sign_in(taker.cashier_email)
    till.goto("/portal/redeem")
    till.page.get_by_label("Spend code").fill(code)
    till.submit(till.page.get_by_role("button", name="Look up"))
    expect(till.page.locator("h1")).to_have_text("€8.50 discount: 20 points and €7.50 credit")
    till.submit(till.page.get_by_role("button", name="Confirm"))
    expect(till.page.get_by_role("heading", level=1)).to_have_text("Done: give €8.50 discount")

    # The month is settled once it is over (here: as of its last moment plus a minute).
    mine = session.get_one(Scheme, scheme_id)
    period = monthly.month_of(mine, utcnow())
    _start, end = periods.period_bounds(mine, period)
    monthly.settle(session, mine, period, end + timedelta(minutes=1))
    session.commit()

    owner = new_tablet("en")
    owner.sign_in(taker.owner_email)
    owner.goto("/portal/statements")
    row = owner.page.get_by_role("row", name=re.compile(r"\d{4}"))
    expect(row).to_contain_text("€1.00")  # the 20 points' value
    expect(row).to_contain_text("€7.50")  # the credit, on its own
    owner.check("statements-credit")
    statement = owner.page.request.get(owner.url(f"/portal/statements/{period}.csv")).text()
    assert "redeemed_points,1.00" in statement and "redeemed_euros,7.50" in statement


def test_a_voucher_bought_on_the_phone_is_spent_at_another_shop_and_settled(
    new_phone: NewPhone, new_tablet: NewTablet, session: Session,  # noqa: F811
    stripe_live_server: tuple[LiveServer, StripeStub],
) -> None:
    """Buy -> wallet -> spend at another shop -> settled, all through the pages: a
    gift voucher for oneself paid through Stripe Checkout (the local stand-in), its
    credit on a spend code, the code confirmed at another shop's till, the month
    settled and the shop's statement showing the credit."""
    server, _stub = stripe_live_server
    scheme = make_scheme(session)
    first = make_shop(session, scheme)  # where the phone gets its wallet
    taker = make_portal_shop(session, scheme)
    scheme_id = scheme.id

    phone = new_phone("nl", server=server)
    page = phone.page
    collect(phone, first, 1000)
    phone.goto("/vouchers/buy")
    page.get_by_label("€ 25,00").check()
    page.get_by_label("Voor mezelf: op mijn spaarkaart zetten").check()
    page.get_by_role("button", name="Betalen met kaart of Bancontact").click()
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.locator("h1")).to_have_text("+€ 25,00")
    phone.goto("/wallet")
    page.get_by_label("Tegoed te besteden (€)").fill("12,50")
    page.get_by_role("button", name="Inruilcode aanvragen").click()
    expect(page).to_have_url(re.compile(r"/wallet/code/\d+$"))
    code = page.url.rsplit("/", 1)[1]

    till = new_tablet("nl")
    till.sign_in(taker.cashier_email)
    till.goto("/portal/redeem")
    till.page.get_by_label("Inruilcode").fill(code)
    till.submit(till.page.get_by_role("button", name="Opzoeken"))
    till.submit(till.page.get_by_role("button", name="Bevestigen"))
    expect(till.page.get_by_role("heading", level=1)).to_contain_text("€ 12,50")

    mine = session.get_one(Scheme, scheme_id)
    period = monthly.month_of(mine, utcnow())
    _start, end = periods.period_bounds(mine, period)
    monthly.settle(session, mine, period, end + timedelta(minutes=1))
    session.commit()
    owner = new_tablet("en")
    owner.sign_in(taker.owner_email)
    statement = owner.page.request.get(owner.url(f"/portal/statements/{period}.csv")).text()
    assert "redeemed_euros,12.50" in statement
