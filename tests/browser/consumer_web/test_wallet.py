"""The shopper's wallet in a real browser: scan to claim, the wallet, spending."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.browser.consumer_web.conftest import NewPhone
from tests.browser.consumer_web.flows import (
    RECOVERY_CODE,
    balance_line,
    collect,
    expect_wallet,
    history,
)
from tests.browser.consumer_web.phone import Phone, confirm_code, create_claim, decode_qr, squash
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_shop

SPEND_CODE_URL = re.compile(r"/wallet/code/(\d{8})$")


def test_scan_to_claim_then_the_wallet(
    phone: Phone, session: Session, live_server: LiveServer
) -> None:
    page, w = phone.page, phone.words
    scheme = make_scheme(session)
    bakery = make_shop(session, scheme, name="Bakkerij De Smet", address="Kerkstraat 1")
    books = make_shop(session, scheme, name="Boekhandel Het Anker")
    claim = create_claim(live_server, bakery, 4250)
    assert claim["points"] == 42

    # The phone's camera opens the QR code's URL.
    phone.goto(claim["url"])
    expect(page.locator(".shop")).to_have_text("Bakkerij De Smet")
    expect(page.locator("h1")).to_have_text("+42 " + w.ngettext("point", "points", 42))
    expect(page.locator("main")).to_contain_text(
        w("This creates your savings wallet on this phone. No app and no account needed.")
    )
    phone.check("claim-nl")

    page.get_by_role("button", name=w("Collect points")).click()
    expect(page.locator("h1")).to_have_text(
        "+42 " + w.ngettext("point at %(shop)s", "points at %(shop)s", 42, shop="Bakkerij De Smet")
    )
    expect(page.locator(".balance")).to_have_text(balance_line(phone, 42, 210))
    recovery = page.locator("#recovery-code")
    expect(recovery).to_be_visible()
    first_code = recovery.inner_text().strip()
    assert RECOVERY_CODE.match(first_code), first_code
    expect(page.get_by_role("button", name=w("Copy the code"))).to_be_visible()
    phone.check("claimed-nl", docs_name="wallet-claimed.png")

    # The next purchase goes to the same wallet, and the code is not shown again.
    assert collect(phone, books, 1999) is None
    expect(page.locator(".balance")).to_have_text(balance_line(phone, 61, 305))
    expect(page.get_by_text(first_code)).to_have_count(0)
    expect(page.get_by_role("heading", name=w("Write down your recovery code"))).to_have_count(0)

    # The wallet: balance in points and in euro, and where they were earned.
    page.get_by_role("link", name=w("To my wallet")).click()
    expect(page).to_have_url(live_server.url + "/wallet")
    expect_wallet(phone, 42 + 19)
    expect(page.get_by_role("link", name=w("Wallet"))).to_have_attribute("aria-current", "page")
    assert history(phone) == [("Boekhandel Het Anker", "+19"), ("Bakkerij De Smet", "+42")]
    phone.check("wallet-nl", docs_name="wallet.png")


def test_spend_code_shows_used_at_the_other_shop_without_reloading(
    phone: Phone, session: Session, live_server: LiveServer, verify_ledger
) -> None:
    page, w = phone.page, phone.words
    scheme = make_scheme(session)
    bakery = make_shop(session, scheme, name="Bakkerij De Smet")
    books = make_shop(session, scheme, name="Boekhandel Het Anker")
    collect(phone, bakery, 4250)
    phone.goto("/wallet")

    page.get_by_role("button", name="20", exact=True).click()
    expect(page).to_have_url(SPEND_CODE_URL)
    match = SPEND_CODE_URL.search(page.url)
    assert match
    code = match.group(1)
    # Full screen: the QR code, the 8 digits and a live countdown.
    expect(page.locator("h1")).to_have_text(w("Show this to the cashier"))
    expect(page.locator(".value")).to_have_text(
        w.ngettext(
            "%(points)s point = %(value)s discount",
            "%(points)s points = %(value)s discount",
            20,
            points="20",
            value=w.euro(100),
        )
    )
    expect(page.locator(".code-screen .code")).to_have_text(f"{code[:4]} {code[4:]}")
    expect(page.locator(".top")).to_be_hidden()
    qr = page.locator(".qr svg")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 300  # type: ignore[index]
    assert decode_qr(qr.screenshot()) == [code]
    left = re.escape(w("Still valid for %(time)s", time="@")).replace("@", r"\d+:[0-5]\d")
    countdown = page.locator(".countdown")
    expect(countdown).to_have_text(re.compile(f"^{left}$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it counts down every second
    phone.check("code-nl")

    # The till of another shop confirms the code while the page stays open.
    page.evaluate("window.stillTheSamePage = true")
    navigations: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
    )
    confirmed = confirm_code(live_server, books, code)
    assert (confirmed["points"], confirmed["discount_cents"]) == (20, 100)
    used = w("Used at %(shop)s: %(value)s discount", shop="Boekhandel Het Anker", value=w.euro(100))
    expect(page.locator(".outcome")).to_have_text(used, timeout=10_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert navigations == []
    expect(page.locator(".code-screen")).to_have_attribute("data-state", "confirmed")
    expect(page.get_by_role("button", name=w("Cancel: give my points back"))).to_have_count(0)
    phone.check("code-used-nl")

    page.get_by_role("link", name=w("Back to my wallet")).click()
    expect_wallet(phone, 22)
    assert history(phone) == [("Boekhandel Het Anker", "-20"), ("Bakkerij De Smet", "+42")]
    verify_ledger()


def test_cancel_gives_the_held_points_back(
    phone: Phone, session: Session, live_server: LiveServer
) -> None:
    page, w = phone.page, phone.words
    bakery = make_shop(session, name="Bakkerij De Smet")
    collect(phone, bakery, 4250)
    phone.goto("/wallet")

    # More than the balance is refused, next to the field.
    field = page.get_by_label(w("Points to spend"))
    field.fill("43")
    page.get_by_role("button", name=w("Get a spend code")).click()
    expect(page.locator(".field .error")).to_have_text(w("You do not have that many points."))
    expect(field).to_have_attribute("aria-invalid", "true")
    expect_wallet(phone, 42)
    phone.check("wallet-error-nl")

    field.fill("15")
    page.get_by_role("button", name=w("Get a spend code")).click()
    expect(page).to_have_url(SPEND_CODE_URL)
    code_url = page.url

    # While the code is open its points are held: not in the balance.
    phone.goto("/wallet")
    expect_wallet(phone, 27)
    held = page.get_by_role("link", name=re.compile("^15 "))
    expect(held).to_have_count(1)
    held.click()
    expect(page).to_have_url(code_url)

    # The same code in a second tab follows along without being reloaded.
    tab = phone.context.new_page()
    tab.goto(code_url)
    expect(tab.locator(".countdown")).to_be_visible()

    page.get_by_role("button", name=w("Cancel: give my points back")).click()
    expect(page).to_have_url(live_server.url + "/wallet")
    expect_wallet(phone, 42)
    expect(page.get_by_role("heading", name=w("Unused spend codes"))).to_have_count(0)

    cancelled = w("You cancelled this code; your points are back.")
    expect(tab.locator(".outcome")).to_have_text(cancelled, timeout=10_000)
    expect(tab.locator(".countdown")).to_be_hidden()
    phone.goto(code_url)
    expect(page.locator(".outcome")).to_have_text(cancelled)


def test_claiming_and_the_wallet_work_without_javascript(
    new_phone: NewPhone, session: Session, live_server: LiveServer
) -> None:
    phone = new_phone("nl", javascript=False)
    page, w = phone.page, phone.words
    bakery = make_shop(session, name="Bakkerij De Smet")

    recovery = collect(phone, bakery, 3000)
    assert recovery and RECOVERY_CODE.match(recovery)
    expect(page.locator(".balance")).to_have_text(balance_line(phone, 30, 150))
    # The copy button needs a script, so without one it stays hidden.
    expect(page.get_by_role("button", name=w("Copy the code"))).to_have_count(0)
    phone.check("claimed-nojs-nl")

    page.get_by_role("link", name=w("To my wallet")).click()
    expect_wallet(phone, 30)
    assert history(phone) == [("Bakkerij De Smet", "+30")]

    # The spend code too: the QR code and the time it is valid until, with no script.
    page.get_by_role("button", name="20", exact=True).click()
    expect(page).to_have_url(SPEND_CODE_URL)
    expect(page.locator(".qr svg")).to_be_visible()
    valid_until = re.escape(w("Valid until %(time)s", time="@")).replace("@", r"\d\d:\d\d")
    assert re.fullmatch(valid_until, squash(page.locator(".countdown").inner_text()))
    phone.check("code-nojs-nl")
