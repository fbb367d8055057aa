"""Steps that several browser tests take: collecting points, reading the balance."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.models import Wallet
from tests.browser.consumer_web.phone import Phone, create_claim, link_in, mails_to, new_mail
from tests.conftest import count
from tests.factories import Shop

RECOVERY_CODE = re.compile(r"^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$")


def collect(phone: Phone, shop: Shop, amount_cents: int) -> str | None:
    """Scan the till's QR code and tap "Collect points"; the recovery code, if shown."""
    claim = create_claim(phone.server, shop, amount_cents)
    phone.goto(claim["url"])
    phone.page.get_by_role("button", name=phone.words("Collect points")).click()
    expect(phone.page.locator("h1")).to_contain_text(shop.merchant.name)
    code = phone.page.locator("#recovery-code")
    return code.inner_text().strip() if code.count() else None


def balance_line(phone: Phone, points: int, value_cents: int) -> str:
    w = phone.words
    return w.ngettext(
        "Your balance: %(points)s point (%(value)s discount)",
        "Your balance: %(points)s points (%(value)s discount)",
        points,
        points=w.number(points),
        value=w.euro(value_cents),
    )


def expect_wallet(phone: Phone, points: int, point_value_cents: int = 5) -> None:
    """The wallet page shows this balance in points and in euro."""
    w = phone.words
    card = phone.page.locator(".balance-card")
    unit = w.ngettext("point", "points", points)
    expect(card.locator(".big")).to_have_text(f"{w.number(points)} {unit}")
    expect(card).to_contain_text(
        w(
            "worth %(value)s discount in every participating shop",
            value=w.euro(points * point_value_cents),
        )
    )


def history(phone: Phone) -> list[tuple[str, str]]:
    """(shop, points) of every history row, newest first."""
    rows = phone.page.locator("table.history tbody tr")
    cells = [rows.nth(i).locator("td") for i in range(rows.count())]
    return [(row.nth(1).inner_text(), row.nth(2).inner_text()) for row in cells]


def wallet_count(session: Session) -> int:
    n = count(session, sa.select(Wallet))
    session.rollback()  # never keep a transaction (on SQLite: the write lock) open
    return n


def new_address() -> str:
    """An e-mail address no other test uses."""
    return f"shopper-{uuid.uuid4().hex[:10]}@example.be"


def add_email(phone: Phone, email: str) -> None:
    """Upgrade the wallet: the e-mailed link, opened and confirmed on this phone."""
    page, w, mailbox = phone.page, phone.words, phone.server.mailbox
    phone.goto("/account")
    seen = mails_to(mailbox, email)
    page.locator("#email").fill(email)
    page.get_by_role("button", name=w("Send me a link")).click()
    expect(page.locator(".notice")).to_have_text(
        w("We sent you an e-mail. Open the link in it within an hour.")
    )
    link = link_in(new_mail(mailbox, email, seen), phone.server)
    phone.goto(link)
    expect(page.locator("h1")).to_have_text(w("Add %(email)s to your wallet?", email=email))
    phone.check("link-nl")
    page.get_by_role("button", name=w("Confirm")).click()
    expect(page.locator(".notice")).to_have_text(w("Your e-mail address is added to your wallet."))
    expect(page.locator("main")).to_contain_text(
        w("Your wallet is linked to %(email)s.", email=email)
    )
