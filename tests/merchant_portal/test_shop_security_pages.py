"""The shop portal's side of the security review: a pending shop, a suspended one, a till
page that guesses spend codes, and a change of the payout account.

Through Flask's test client, signed in with the real login form; e-mails go
through the real SMTP server of tests/conftest.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import (
    AuditEntry,
    Merchant,
    MerchantStatus,
    PrintedCard,
    Role,
    StaffUser,
    TillKey,
)
from loyalty.money.settlement import bank_accounts, monthly
from loyalty.shops import onboarding
from loyalty.spending import redemptions
from tests.conftest import Mailbox, count
from tests.factories import PASSWORD, make_merchant, make_scheme, make_shop, make_user
from tests.forms import csrf
from tests.merchant_portal.helpers import (
    form_error,
    fresh,
    html_of,
    new_client,
    post_form,
    scalar,
    sign_in_as,
)
from tests.settlement_data import earn_and_redeem, iban_for, make_shops


def test_a_pending_shop_cannot_invite_mint_till_keys_or_print_cards(
    app: Flask, session: Session, mailbox: Mailbox  # noqa: F811
) -> None:
    scheme = make_scheme(session)
    pending = make_merchant(session, scheme, status=MerchantStatus.PENDING)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, pending)
    client = new_client(app)
    sign_in_as(client, owner.email)

    # The phishing relay: the platform would mail any address a password link
    # under a shop name the applicant chose.
    victim = f"slachtoffer-{uuid.uuid4().hex[:8]}@example.be"
    invite = post_form(client, "/portal/team/invite", "/portal/team", email=victim)
    assert invite.status_code == 403
    assert "Only a shop approved by the municipality" in form_error(html_of(invite), "email")
    assert scalar(session, sa.select(StaffUser.id).where(StaffUser.email == victim)) is None

    key = post_form(client, "/portal/team/keys", "/portal/team", label="Kassa 1")
    assert key.status_code == 403
    assert "Only a shop approved by the municipality" in form_error(html_of(key), "label")
    cards = post_form(client, "/portal/printed-cards", "/portal/printed-cards", count="3")
    assert cards.status_code == 403
    assert "Only a shop approved by the municipality" in form_error(html_of(cards), "count")
    assert count(session, sa.select(TillKey.id).where(TillKey.merchant_id == pending.id)) == 0
    assert count(session, sa.select(PrintedCard.id).where(
        PrintedCard.issued_by_merchant_id == pending.id)) == 0
    session.commit()
    assert [m for m in mailbox.messages if m["To"] == victim] == []


def test_the_till_page_stops_a_shop_that_guesses_spend_codes(
    app: Flask, session: Session
) -> None:
    shop = make_shop(session)
    cashier = make_user(session, shop.scheme, Role.CASHIER, shop.merchant)
    client = new_client(app)
    sign_in_as(client, cashier.email)
    for n in range(redemptions.MAX_MISSES_PER_SHOP):
        miss = client.get(f"/portal/redeem/{n:08d}")
        assert miss.status_code == 404
        assert "This code does not exist" in html_of(miss)
    stopped = client.get("/portal/redeem/99999999")
    assert stopped.status_code == 429
    assert "Try again in 10 minutes" in form_error(html_of(stopped), "code")
    # In Dutch too.
    client.set_cookie("lang", "nl")
    assert "Probeer het over 10 minuten opnieuw" in html_of(client.get("/portal/redeem/99999999"))

    # The municipality finds the shop on its fraud page.
    admin = make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)
    desk = new_client(app)
    sign_in_as(desk, admin.email)
    page = html_of(desk.get("/dashboard/fraud"))
    assert "Guesses spend codes" in page
    assert (f"A till of {shop.merchant.name} looked up {redemptions.MAX_MISSES_PER_SHOP} spend "
            "codes that do not exist within 10 minutes") in page


def test_a_suspended_shops_staff_are_signed_out(app: Flask, session: Session) -> None:
    shop = make_shop(session)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    admin = make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN)
    client = new_client(app)
    sign_in_as(client, owner.email)
    assert client.get("/portal/till").status_code == 200

    onboarding.decide(session, fresh(session, Merchant, shop.merchant.id),
                      MerchantStatus.SUSPENDED, admin)
    session.commit()
    gone = client.get("/portal/till")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")
    # Signing in again opens no door while the shop stays suspended.
    client.set_cookie("lang", "en")
    page = client.get("/login").get_data(as_text=True)
    again = client.post("/login", data={"csrf_token": csrf(page), "email": owner.email,
                                        "password": PASSWORD})
    assert again.status_code == 403
    assert "This shop is suspended by the municipality." in again.get_data(as_text=True)
    assert client.get("/portal/till").status_code == 302


def _profile(shop: Merchant, **data: str) -> dict[str, str]:
    return {"postcode": "9170", "sector": "47.24", "email": shop.email, "address": "Markt 1",
            "bic": "GEBABEBB", "account_holder": "De Smet bv", **data}


def test_changing_the_payout_account_needs_the_password_and_tells_the_owners(
    app: Flask, session: Session, mailbox: Mailbox  # noqa: F811
) -> None:
    scheme = make_scheme(session)
    (shop,) = make_shops(session, scheme, 1)
    old, new = iban_for(31), iban_for(32)
    bank_accounts.set_merchant_bank_account(session, shop, old, "GEBABEBB", "De Smet bv")
    session.commit()
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    client = new_client(app)
    sign_in_as(client, owner.email)

    # A stolen session (a till tablet left signed in) cannot move the payouts.
    for password in ("", "not-the-password"):
        refused = post_form(client, "/portal/profile", "/portal/profile",
                        **_profile(shop, iban=new, password=password))
        assert refused.status_code == 422
        assert "Type your password correctly" in form_error(html_of(refused), "password")
    assert fresh(session, Merchant, shop.id).iban == old
    # Other changes of the profile need no password.
    kept = post_form(client, "/portal/profile", "/portal/profile",
                 **_profile(shop, iban=old, opening_hours="ma-za 9-18"))
    assert kept.status_code == 303

    # The shop's address changes in the same form: the notice goes to the old one.
    shop_email = shop.email
    moved = f"nieuw-{uuid.uuid4().hex[:8]}@example.be"
    saved = post_form(client, "/portal/profile", "/portal/profile",
                  **_profile(shop, iban=new, password=PASSWORD, email=moved))
    assert saved.status_code == 303
    assert fresh(session, Merchant, shop.id).iban == new
    masked_old, masked_new = f"{old[:4]} **** {old[-4:]}", f"{new[:4]} **** {new[-4:]}"
    for address in (owner.email, shop_email):
        message = mailbox.wait_for(address)
        body = message.get_content()
        assert message["Subject"] == "The bank account of your shop on Lokaal Sparen was changed"
        assert body.split()[:6] == ["Hello,", "The", "bank", "account", "for", "the"]
        assert f"Old account: {masked_old}" in body and f"New account: {masked_new}" in body
        assert old not in body and new not in body
    assert [m for m in mailbox.messages if m["To"] == moved] == []
    entry = session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "merchant.bank_account", AuditEntry.target_id == shop.id
    )).one()
    assert (entry.actor_id, entry.details) == (
        owner.id, {"old_iban": masked_old, "new_iban": masked_new}
    )
    session.commit()


def test_a_locked_month_pays_to_the_account_of_its_lock(
    app: Flask, session: Session, mailbox: Mailbox  # noqa: F811
) -> None:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, taker = make_shops(session, scheme, 2)
    old, new = iban_for(41), iban_for(42)
    bank_accounts.set_merchant_bank_account(session, taker, old, "GEBABEBB", "Taker bv")
    session.commit()
    earn_and_redeem(session, scheme, issuer, taker, 100, datetime(2025, 3, 12, 10, tzinfo=UTC))
    monthly.settle(session, scheme, "2025-03", datetime(2026, 11, 27, 12, tzinfo=UTC))
    session.commit()

    owner = make_user(session, scheme, Role.MERCHANT_OWNER, taker)
    client = new_client(app)
    sign_in_as(client, owner.email)
    changed = post_form(client, "/portal/profile", "/portal/profile",
                    **_profile(taker, iban=new, password=PASSWORD, account_holder="Taker bv"))
    assert changed.status_code == 303
    mailbox.wait_for(owner.email)

    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    desk = new_client(app)
    sign_in_as(desk, admin.email)
    sepa = desk.get("/dashboard/settlements/2025-03/sepa.xml")
    assert sepa.status_code == 200
    assert f"<IBAN>{old}</IBAN>".encode() in sepa.data
    assert new.encode() not in sepa.data
