"""What a claim link does for bots, and the pages for codes that no longer work."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
import requests
from itsdangerous import URLSafeSerializer
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import WalletStatus
from loyalty.shoppers import wallets
from tests.browser.consumer_web.conftest import NewPhone
from tests.browser.consumer_web.flows import collect, expect_wallet, wallet_count
from tests.browser.consumer_web.phone import Phone, claim_status, create_claim
from tests.conftest import LiveServer
from tests.factories import Shop, bearer, make_shop, make_wallet_token

PREVIEW_BOT = "WhatsApp/2.24.1 A"
STACK_TRACE_MARKERS = ("Traceback", 'File "', "Internal Server Error", "werkzeug")


def test_link_previews_claim_nothing(
    new_phone: NewPhone, session: Session, live_server: LiveServer
) -> None:
    shop = make_shop(session, name="Bakkerij De Smet")
    claim = create_claim(live_server, shop, 1800)
    wallets_before = wallet_count(session)

    # A chat app unfurls the link with plain requests and no script.
    for method in ("GET", "HEAD"):
        answer = requests.request(
            method, claim["url"], headers={"User-Agent": PREVIEW_BOT}, timeout=15
        )
        assert answer.status_code == 200
        assert "ls_wallet" not in answer.headers.get("Set-Cookie", "")
    # A browser without JavaScript, and one with it, that only open the page.
    for javascript in (False, True):
        bot = new_phone("en", javascript=javascript)
        bot.goto(claim["url"])
        expect(bot.page.get_by_role("button", name=bot.words("Collect points"))).to_be_visible()
        bot.page.wait_for_timeout(300)  # room for a script that would claim on load
        assert "ls_wallet" not in {c["name"] for c in bot.context.cookies()}

    assert claim_status(live_server, shop, claim["token"]) == "open"
    assert wallet_count(session) == wallets_before

    # The shopper's own tap still collects it: the previews changed nothing.
    shopper = new_phone("nl")
    shopper.goto(claim["url"])
    shopper.page.get_by_role("button", name=shopper.words("Collect points")).click()
    expect(shopper.page.locator("h1")).to_contain_text("Bakkerij De Smet")
    assert claim_status(live_server, shop, claim["token"]) == "claimed"
    assert wallet_count(session) == wallets_before + 1


def _expired(session: Session, shop: Shop, server: LiveServer) -> str:
    an_hour_ago = utcnow() - timedelta(hours=1)
    new = claims.create_claim(session, shop.merchant, 1000, an_hour_ago)
    session.commit()
    return new.token


def _used(session: Session, shop: Shop, server: LiveServer) -> str:
    token: str = create_claim(server, shop, 1000)["token"]
    wallet = make_wallet_token(session, shop.scheme)
    answer = requests.post(server.api(f"/claims/{token}/claim"), headers=bearer(wallet), timeout=15)
    assert answer.status_code == 200, answer.text
    return token


def _cancelled(session: Session, shop: Shop, server: LiveServer) -> str:
    token: str = create_claim(server, shop, 1000)["token"]
    answer = requests.post(server.api(f"/claims/{token}/cancel"), headers=shop.headers, timeout=15)
    assert answer.status_code == 200, answer.text
    return token


def _unknown(session: Session, shop: Shop, server: LiveServer) -> str:
    return secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("make_token", "status", "title"),
    [
        pytest.param(_expired, 410, "This code has expired", id="expired"),
        pytest.param(_used, 409, "Already collected", id="used"),
        pytest.param(_cancelled, 409, "Purchase cancelled", id="cancelled"),
        pytest.param(_unknown, 404, "Code not found", id="unknown"),
    ],
)
def test_codes_that_no_longer_work_get_a_friendly_page(
    phone: Phone,
    session: Session,
    live_server: LiveServer,
    make_token: Any,
    status: int,
    title: str,
    request: pytest.FixtureRequest,
) -> None:
    page, w = phone.page, phone.words
    url = f"{live_server.url}/c/{make_token(session, make_shop(session), live_server)}"

    phone.goto(url, status=status)
    expect(page.locator("h1")).to_have_text(w(title))
    expect(page.get_by_role("link", name=w("To my wallet"))).to_be_visible()
    html = page.content()
    assert not any(marker in html for marker in STACK_TRACE_MARKERS)
    phone.check(f"problem-{request.node.callspec.id}-nl")

    # A link preview of a dead code gets the same answer.
    answer = requests.get(url, timeout=15)
    assert answer.status_code == status
    assert "<h1>" in answer.text
    assert not any(marker in answer.text for marker in STACK_TRACE_MARKERS)


def test_unknown_spend_code_and_frozen_wallet_get_a_friendly_page(
    phone: Phone, session: Session, live_server: LiveServer
) -> None:
    page, w = phone.page, phone.words
    shop = make_shop(session)
    collect(phone, shop, 1000)

    phone.goto("/wallet/code/12345678", status=404)
    expect(page.locator("h1")).to_have_text(w("Code not found"))
    assert not any(marker in page.content() for marker in STACK_TRACE_MARKERS)
    phone.check("problem-spend-code-nl")

    # A wallet frozen by the municipality cannot collect: a page that says so, no crash.
    cookie = next(c for c in phone.context.cookies() if c["name"] == "ls_wallet")
    kept = URLSafeSerializer("live-server-secret", salt="wallet-cookie").loads(cookie["value"])
    token = kept["w"][str(shop.scheme.id)]  # the phone's wallet of this town
    wallet = wallets.wallet_by_token(session, token)
    wallet.status = WalletStatus.FROZEN
    session.commit()
    claim = create_claim(live_server, shop, 1000)
    phone.goto(claim["url"])
    page.get_by_role("button", name=w("Collect points")).click()
    expect(page.locator("h1")).to_have_text(w("This is not possible right now."))
    assert not any(marker in page.content() for marker in STACK_TRACE_MARKERS)
    assert claim_status(live_server, shop, claim["token"]) == "open"
    phone.goto("/wallet")
    expect_wallet(phone, 10)
