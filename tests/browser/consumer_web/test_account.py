"""The account page in a real browser: e-mail link, new phones, export and deletion."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.browser.consumer_web.conftest import NewPhone
from tests.browser.consumer_web.flows import (
    RECOVERY_CODE,
    add_email,
    collect,
    expect_wallet,
)
from tests.browser.consumer_web.flows import new_address as _address
from tests.browser.consumer_web.phone import Phone, link_in, mails_to, new_mail
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_shop


def test_magic_link_adds_the_email_address_that_restores_on_a_new_phone(
    new_phone: NewPhone, session: Session, live_server: LiveServer
) -> None:
    old = new_phone("nl")
    page, w = old.page, old.words
    collect(old, make_shop(session), 3300)
    old.goto("/account")
    expect(page.locator("h1")).to_have_text(w("Account"))
    old.check("account-nl")

    # A wrong address is explained next to its field.
    page.locator("#email").fill("not an address")
    page.get_by_role("button", name=w("Send me a link")).click()
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_be_visible()

    email = _address()
    add_email(old, email)
    old.check("account-linked-nl")

    # The link works once: a mail scanner or a second tap changes nothing.
    old.goto(link_in(new_mail(live_server.mailbox, email, 0), live_server))
    page.get_by_role("button", name=w("Confirm")).click()
    expect(page.locator("h1")).to_have_text(w("This link no longer works"))
    old.goto("/wallet")
    expect_wallet(old, 33)

    # A new phone: the same address brings the wallet over.
    new = new_phone("nl")
    page = new.page
    new.goto("/wallet")
    expect(page.locator("h1")).to_have_text(w("No wallet on this phone yet"))
    new.check("no-wallet-nl")
    new.goto("/account")
    seen = mails_to(live_server.mailbox, email)
    page.locator("#restore-email").fill(email)
    page.get_by_role("button", name=w("Send a link to my e-mail address")).click()
    expect(page.locator(".notice")).to_have_text(
        w(
            "If this address belongs to a wallet, we sent it a link. "
            "Open it within an hour on this phone."
        )
    )
    new.goto(link_in(new_mail(live_server.mailbox, email, seen), live_server))
    expect(page.locator("h1")).to_have_text(w("Open your wallet on this phone?"))
    new.check("link-restore-nl")
    page.get_by_role("button", name=w("Confirm")).click()
    expect(page.locator(".notice")).to_have_text(w("Your wallet is open on this phone."))
    new.goto("/wallet")
    expect_wallet(new, 33)

    # The old phone is signed out: its token was replaced.
    old.goto("/wallet")
    expect(old.page.locator("h1")).to_have_text(w("No wallet on this phone yet"))


def test_recovery_code_opens_the_same_wallet_on_a_new_phone(
    new_phone: NewPhone, session: Session, live_server: LiveServer
) -> None:
    first = new_phone("nl")
    scheme = make_scheme(session)
    recovery = collect(first, make_shop(session, scheme), 2750)
    collect(first, make_shop(session, scheme), 1200)
    assert recovery and RECOVERY_CODE.match(recovery)

    new = new_phone("nl")
    page, w = new.page, new.words
    new.goto("/")
    expect(page.locator("h1")).to_have_text(w("Save points in your local shops"))
    new.check("home-nl")
    page.get_by_role(
        "link", name=w("Open your wallet with your recovery code or e-mail address")
    ).click()
    field = page.get_by_label(w("Recovery code"))
    field.fill("ABCD-EFGH-JKLM-NPQR")
    page.get_by_role("button", name=w("Open with recovery code")).click()
    expect(page.locator("#recovery_code-error")).to_have_text(
        w("We do not know this recovery code.")
    )
    expect(field).to_have_attribute("aria-invalid", "true")
    new.check("account-recovery-error-nl")

    page.get_by_label(w("Recovery code")).fill(recovery)
    page.get_by_role("button", name=w("Open with recovery code")).click()
    expect(page).to_have_url(live_server.url + "/wallet")
    expect_wallet(new, 27 + 12)


def test_export_downloads_all_data_as_json(
    phone: Phone, session: Session, live_server: LiveServer
) -> None:
    page, w = phone.page, phone.words
    scheme = make_scheme(session)
    collect(phone, make_shop(session, scheme, name="Bakkerij De Smet"), 2350)
    collect(phone, make_shop(session, scheme, name="Slagerij Van Hecke"), 1205)
    phone.goto("/account")

    with page.expect_download() as download_info:
        page.get_by_role("link", name=w("Download all my data")).click()
    download = download_info.value
    assert download.suggested_filename == "lokaal-sparen-data.json"
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert data["balance"] == 23 + 12
    assert [(e["shop"], e["amount_cents"], e["points"]) for e in data["earned"]] == [
        ("Bakkerij De Smet", 2350, 23),
        ("Slagerij Van Hecke", 1205, 12),
    ]
    assert data["spend_codes"] == []
    assert data["wallet"]["email"] is None


def test_delete_wallet(
    new_phone: NewPhone, session: Session, live_server: LiveServer, verify_ledger
) -> None:
    phone = new_phone("nl")
    page, w = phone.page, phone.words
    collect(phone, make_shop(session), 2500)
    cookie = next(c for c in phone.context.cookies() if c["name"] == "ls_wallet")
    phone.goto("/account")

    page.get_by_text(w("Delete my wallet"), exact=True).click()
    delete = page.get_by_role("button", name=w("Delete my wallet for good"))
    # Without the tick nothing happens, and the reason is in view (not in a closed <details>).
    delete.click()
    error = page.locator("#confirm-error")
    expect(error).to_have_text(w("Tick the box to confirm."))
    expect(error).to_be_visible()
    phone.check("account-delete-error-nl")

    page.get_by_label(w("I understand that my points are lost and my data is erased.")).check()
    page.get_by_role("button", name=w("Delete my wallet for good")).click()
    expect(page.locator("h1")).to_have_text(w("Your wallet is deleted"))
    phone.check("deleted-nl")
    assert "ls_wallet" not in {c["name"] for c in phone.context.cookies()}

    # The old cookie, kept by someone, opens nothing any more.
    kept = new_phone("nl")
    kept.context.add_cookies([cookie])  # type: ignore[list-item]
    kept.goto("/wallet")
    expect(kept.page.locator("h1")).to_have_text(w("No wallet on this phone yet"))
    jar = {"ls_wallet": cookie["value"]}
    answer = requests.get(live_server.url + "/account/export", cookies=jar, timeout=15)
    assert answer.history and answer.history[0].status_code == 302
    assert "application/json" not in answer.headers["Content-Type"]
    verify_ledger()
