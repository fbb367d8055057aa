"""One phone, several towns: a wallet per scheme, a switch, and recovery of all."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.models import Scheme
from tests.browser.consumer_web.conftest import NewPhone
from tests.browser.consumer_web.flows import (
    RECOVERY_CODE,
    add_email,
    collect,
    expect_wallet,
    history,
    new_address,
)
from tests.browser.consumer_web.phone import Phone, create_claim, link_in, mails_to, new_mail
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_shop


def town(session: Session, name: str) -> Scheme:
    scheme = make_scheme(session)
    scheme.name = name
    session.commit()
    return scheme


def town_button(phone: Phone, town: str):  # type: ignore[no-untyped-def]
    return phone.page.locator(".towns").get_by_role("button", name=town)


def expect_showing(phone: Phone, town: str, points: int) -> None:
    expect(town_button(phone, town)).to_have_attribute("aria-pressed", "true")
    expect(phone.page.locator(".balance-card .town")).to_have_text(town)
    expect_wallet(phone, points)


def test_a_phone_collects_in_two_towns_and_a_new_phone_gets_both_back(
    new_phone: NewPhone, session: Session, live_server: LiveServer
) -> None:
    phone = new_phone("nl")
    page, w = phone.page, phone.words
    gillis = town(session, "Sint-Gillis-Waas")
    beveren = town(session, "Beveren")
    bakery = make_shop(session, gillis, name="Bakkerij De Smet")
    butcher = make_shop(session, beveren, name="Slagerij Peeters")

    first_code = collect(phone, bakery, 4250)
    assert first_code and RECOVERY_CODE.match(first_code)
    phone.goto("/wallet")
    expect(page.locator(".towns")).to_have_count(0)  # one town: no switch

    # The second town's receipt says it adds a wallet; the first one stays.
    claim = create_claim(live_server, butcher, 1800)
    phone.goto(claim["url"])
    expect(page.locator("main")).to_contain_text(
        w(
            "This adds a savings wallet of %(town)s to this phone, beside the one you have.",
            town="Beveren",
        )
    )
    page.get_by_role("button", name=w("Collect points")).click()
    expect(page.locator("h1")).to_contain_text("Slagerij Peeters")
    expect(page.locator("main")).to_contain_text(
        w("It also opens your wallets of the other towns on this phone, as do their codes.")
    )
    second_code = page.locator("#recovery-code").inner_text().strip()
    assert RECOVERY_CODE.match(second_code) and second_code != first_code
    phone.check("claimed-second-town-nl")

    # The wallet shows the town just collected in, and switches between the two.
    page.get_by_role("link", name=w("To my wallet")).click()
    expect(page.locator(".towns legend")).to_have_text(w("Your wallets"))
    expect_showing(phone, "Beveren", 18)
    assert history(phone) == [("Slagerij Peeters", "+18")]
    phone.check("wallet-two-towns-nl")
    town_button(phone, "Sint-Gillis-Waas").click()
    expect_showing(phone, "Sint-Gillis-Waas", 42)
    assert history(phone) == [("Bakkerij De Smet", "+42")]

    # Collecting again in the first town adds to its wallet: no third wallet.
    assert collect(phone, bakery, 1000) is None
    phone.goto("/wallet")
    expect_showing(phone, "Sint-Gillis-Waas", 52)
    expect(page.locator(".towns button")).to_have_count(2)

    # A new phone: the second town's recovery code brings both wallets back.
    other = new_phone("nl")
    other.goto("/account")
    other.page.get_by_label(w("Recovery code")).fill(second_code)
    other.page.get_by_role("button", name=w("Open with recovery code")).click()
    expect(other.page).to_have_url(live_server.url + "/wallet")
    expect_showing(other, "Beveren", 18)
    town_button(other, "Sint-Gillis-Waas").click()
    expect_showing(other, "Sint-Gillis-Waas", 52)

    # The first phone is signed out of both.
    phone.goto("/wallet")
    expect(page.locator("h1")).to_have_text(w("No wallet on this phone yet"))


def test_the_email_address_restores_every_town(
    new_phone: NewPhone, session: Session, live_server: LiveServer
) -> None:
    phone = new_phone("fr")
    w = phone.words
    aalst = town(session, "Aalst")
    lokeren = town(session, "Lokeren")
    collect(phone, make_shop(session, aalst), 2000)
    collect(phone, make_shop(session, lokeren), 3000)
    email = new_address()
    add_email(phone, email)  # on the wallet shown: Lokeren's

    new = new_phone("fr")
    new.goto("/account")
    seen = mails_to(live_server.mailbox, email)
    new.page.locator("#restore-email").fill(email)
    new.page.get_by_role("button", name=w("Send a link to my e-mail address")).click()
    new.goto(link_in(new_mail(live_server.mailbox, email, seen), live_server))
    new.page.get_by_role("button", name=w("Confirm")).click()
    expect(new.page.locator(".notice")).to_have_text(w("Your wallet is open on this phone."))
    new.goto("/wallet")
    expect_showing(new, "Lokeren", 30)
    town_button(new, "Aalst").click()
    expect_showing(new, "Aalst", 20)
    new.check("wallet-two-towns-fr")


def test_deleting_one_towns_wallet_keeps_the_other(
    new_phone: NewPhone, session: Session
) -> None:
    phone = new_phone("en")
    page, w = phone.page, phone.words
    collect(phone, make_shop(session, town(session, "Temse")), 1500)
    collect(phone, make_shop(session, town(session, "Kruibeke")), 2500)
    phone.goto("/account")
    expect(page.locator(".town-note")).to_have_text(
        w(
            "This page is about your wallet of %(town)s. Choose another town on the wallet page.",
            town="Kruibeke",
        )
    )
    page.get_by_text(w("Delete my wallet"), exact=True).click()
    page.get_by_label(w("I understand that my points are lost and my data is erased.")).check()
    page.get_by_role("button", name=w("Delete my wallet for good")).click()
    expect(page.locator("h1")).to_have_text(w("Your wallet is deleted"))
    phone.goto("/wallet")
    expect(page.locator(".towns")).to_have_count(0)
    expect(page.locator(".balance-card .town")).to_have_count(0)
    expect_wallet(phone, 15)  # Temse's wallet stays on the phone
    phone.goto("/account")
    expect(page.locator(".town-note")).to_have_count(0)
