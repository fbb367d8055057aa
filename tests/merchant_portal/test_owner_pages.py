"""The shop owner's pages: stamp cards, team and till keys, shop profile.

Through Flask's test client, signed in with the real login form; the invitation
e-mail goes through a real SMTP server.
"""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.earning import stamps
from loyalty.models import Merchant, Role, StaffUser, StampCard, TillKey
from tests.conftest import Mailbox, count
from tests.factories import (
    PASSWORD,
    bearer,
    make_merchant,
    make_scheme,
    make_shop,
    make_user,
)
from tests.forms import csrf as _csrf
from tests.merchant_portal.helpers import (
    form_error,
    fresh,
    html_of,
    new_client,
    post_form,
    scalar,
    sign_in_as,
)

DEACTIVATED = '<span class="status status-cancelled">deactivated</span>'
OWNER_PAGES = ["/portal/stamp-cards", "/portal/team", "/portal/profile"]














@dataclass
class Owner:
    client: FlaskClient
    merchant: Merchant
    user: StaffUser
    till_key: str


@pytest.fixture
def owner(app: Flask, session: Session) -> Owner:
    """A signed-in owner of an approved shop in a scheme of its own."""
    shop = make_shop(session)
    user = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    client = new_client(app)
    assert sign_in_as(client, user.email) == "/portal/till"
    return Owner(client, shop.merchant, user, shop.till_key)


# -- stamp cards -------------------------------------------------------------------


def test_owner_defines_a_stamp_card_and_deactivates_it(owner: Owner) -> None:
    client, merchant = owner.client, owner.merchant
    page = client.get("/portal/stamp-cards")
    assert page.status_code == 200
    assert "Your shop has no stamp card yet." in html_of(page)

    created = post_form(
        client,
        "/portal/stamp-cards",
        "/portal/stamp-cards",
        name="Koffiekaart",
        stamps_needed="10",
        reward="Gratis koffie",
        voucher_valid_days="",
    )
    assert created.status_code == 303
    listed = client.get(f"/api/v1/merchants/{merchant.id}/stamp-cards").json
    assert listed is not None
    assert listed == [
        {
            "id": listed[0]["id"],
            "name": "Koffiekaart",
            "stamps_needed": 10,
            "reward": "Gratis koffie",
            "voucher_valid_days": None,
        }
    ]
    card_id = listed[0]["id"]
    shown = html_of(client.get(created.headers["Location"]))
    assert "The stamp card is ready" in shown and "Koffiekaart" in shown

    asked = post_form(client, f"/portal/stamp-cards/{card_id}/deactivate", "/portal/stamp-cards")
    assert asked.status_code == 200
    assert "Deactivate the stamp card “Koffiekaart”?" in html_of(asked)
    assert client.get(f"/api/v1/merchants/{merchant.id}/stamp-cards").json != []
    gone = post_form(client, f"/portal/stamp-cards/{card_id}/deactivate", "/portal/stamp-cards",
                     confirmed="1")
    assert gone.status_code == 303
    assert client.get(f"/api/v1/merchants/{merchant.id}/stamp-cards").json == []
    after = html_of(client.get("/portal/stamp-cards"))
    assert "Koffiekaart" in after and DEACTIVATED in after
    assert f"/portal/stamp-cards/{card_id}/deactivate" not in after


def test_a_voucher_validity_is_kept(owner: Owner) -> None:
    post_form(
        owner.client,
        "/portal/stamp-cards",
        "/portal/stamp-cards",
        name="Broodkaart",
        stamps_needed="5",
        reward="Gratis brood",
        voucher_valid_days="30",
    )
    listed = owner.client.get(f"/api/v1/merchants/{owner.merchant.id}/stamp-cards").json
    assert listed is not None
    assert [card["voucher_valid_days"] for card in listed] == [30]




# One signed-in owner tries them all: signing in costs two password hashes.
WRONG_CARDS = [
    ("stamps_needed", "1", "A card needs between 2 and 50 stamps."),
    ("stamps_needed", "51", "A card needs between 2 and 50 stamps."),
    ("stamps_needed", "tien", "Type a whole number, such as 10."),
    ("stamps_needed", "", "Type how many stamps fill the card."),
    ("name", "   ", "Give the card a name"),
    ("name", "x" * 101, "At most 100 characters."),
    ("reward", "", "Type what the shopper gets for a full card."),
    ("voucher_valid_days", "0", "Between 1 and 3650 days, or leave it empty."),
]


def test_a_wrong_stamp_card_form_says_what_is_wrong(owner: Owner, session: Session) -> None:
    for field, value, message in WRONG_CARDS:
        data = {"name": "Koffiekaart", "stamps_needed": "10", "reward": "Gratis koffie"}
        data[field] = value
        answer = post_form(owner.client, "/portal/stamp-cards", "/portal/stamp-cards", **data)
        assert answer.status_code == 422, (field, value)
        assert message in form_error(html_of(answer), field), (field, value)
    assert (
        count(session, sa.select(StampCard).where(StampCard.merchant_id == owner.merchant.id)) == 0
    )


def test_another_shops_card_key_or_cashier_is_not_found(owner: Owner, session: Session) -> None:
    other = make_shop(session, make_scheme(session))
    card = stamps.create_card(
        session, other.merchant, name="Andere kaart", stamps_needed=5, reward="Iets"
    )
    session.commit()
    key_id = scalar(session, sa.select(TillKey.id).where(TillKey.merchant_id == other.merchant.id))
    cashier = make_user(session, other.scheme, Role.CASHIER, other.merchant)
    for url in (
        f"/portal/stamp-cards/{card.id}/deactivate",
        f"/portal/team/keys/{key_id}/revoke",
        f"/portal/team/users/{cashier.id}/deactivate",
    ):
        assert post_form(owner.client, url, "/portal/team").status_code == 404, url
    assert fresh(session, StampCard, card.id).active
    assert fresh(session, TillKey, key_id).revoked_at is None
    assert fresh(session, StaffUser, cashier.id).active


def test_the_owner_cannot_deactivate_an_owner(owner: Owner, session: Session) -> None:
    answer = post_form(
        owner.client, f"/portal/team/users/{owner.user.id}/deactivate", "/portal/team"
    )
    assert answer.status_code == 403
    assert fresh(session, StaffUser, owner.user.id).active


# -- who may -------------------------------------------------------------------------


def test_a_cashier_gets_403_on_every_owner_page(app: Flask, session: Session, owner: Owner) -> None:
    cashier = make_user(session, owner.merchant.scheme, Role.CASHIER, owner.merchant)
    card = stamps.create_card(
        session, owner.merchant, name="Koffiekaart", stamps_needed=5, reward="Koffie"
    )
    session.commit()
    key_id = scalar(session, sa.select(TillKey.id).where(TillKey.merchant_id == owner.merchant.id))
    client = new_client(app)
    assert sign_in_as(client, cashier.email) == "/portal/till"
    till = html_of(client.get("/portal/till"))
    for page in OWNER_PAGES:
        assert client.get(page).status_code == 403, page
        assert f'href="{page}"' not in till  # not in the cashier's menu either
    token = _csrf(till)
    posts = {
        "/portal/stamp-cards": {"name": "X", "stamps_needed": "5", "reward": "Y"},
        f"/portal/stamp-cards/{card.id}/deactivate": {},
        "/portal/team/invite": {"email": "iemand@example.be"},
        f"/portal/team/users/{owner.user.id}/deactivate": {},
        "/portal/team/keys": {"label": "Kassa"},
        f"/portal/team/keys/{key_id}/revoke": {},
        "/portal/profile": {"postcode": "9170", "sector": "47.24", "email": "x@example.be"},
    }
    for url, data in posts.items():
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert fresh(session, StampCard, card.id).active
    assert fresh(session, TillKey, key_id).revoked_at is None
    assert count(session, sa.select(StaffUser).where(StaffUser.email == "iemand@example.be")) == 0


def test_the_owner_sees_the_owner_pages_in_the_menu(owner: Owner) -> None:
    # The till links to each menu item (the till, figures, the shop); each owner
    # page is a tab of its item, marked as the page shown.
    till = html_of(owner.client.get("/portal/till"))
    for first in ("/portal/till", "/portal/figures", "/portal/profile"):
        assert f'href="{first}"' in till
    for page in OWNER_PAGES:
        html = html_of(owner.client.get(page))
        assert re.search(rf'<nav class="subnav"[^>]*>.*href="{page}"\s+aria-current="page"',
                         html, re.S), page


def test_signed_out_visitors_go_to_the_login(client: FlaskClient) -> None:
    for page in OWNER_PAGES:
        answer = client.get(page)
        assert answer.status_code == 302
        assert urlsplit(answer.headers["Location"]).path == "/login"


def test_a_post_without_csrf_token_is_refused(owner: Owner, session: Session) -> None:
    key_id = scalar(session, sa.select(TillKey.id).where(TillKey.merchant_id == owner.merchant.id))
    for url, data in {
        "/portal/stamp-cards": {"name": "X", "stamps_needed": "5", "reward": "Y"},
        "/portal/team/invite": {"email": "iemand@example.be"},
        "/portal/team/keys": {"label": "Kassa"},
        f"/portal/team/keys/{key_id}/revoke": {},
        "/portal/profile": {"postcode": "9000", "sector": "47.24", "email": "x@example.be"},
    }.items():
        assert owner.client.post(url, data=data).status_code == 400, url
    assert fresh(session, TillKey, key_id).revoked_at is None
    assert fresh(session, Merchant, owner.merchant.id).postcode == "9170"


def test_the_pages_have_no_inline_script_or_style(owner: Owner) -> None:
    for page in OWNER_PAGES:
        answer = owner.client.get(page)
        html = html_of(answer)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        assert "<style" not in html and " style=" not in html
        assert all(' src="' in tag for tag in re.findall(r"<script[^>]*>", html))


# -- team ----------------------------------------------------------------------------


def _invite(owner: Owner, email: str) -> TestResponse:
    return post_form(owner.client, "/portal/team/invite", "/portal/team", email=email)


def test_an_invited_cashier_chooses_a_password_and_can_be_shut_out(
    app: Flask, session: Session, owner: Owner, mailbox: Mailbox
) -> None:
    email = f"kassa-{uuid.uuid4().hex[:8]}@example.be"
    sent = _invite(owner, email.upper())
    assert sent.status_code == 303
    assert "The invitation is sent" in html_of(owner.client.get(sent.headers["Location"]))

    message = mailbox.wait_for(email)
    body = message.get_content()
    # The shop's name is its own choice: never in the subject or the first words.
    assert message["Subject"] == "Invitation to a shop's till on Lokaal Sparen"
    assert body.split()[:4] == ["Hello,", "You", "are", "invited"]
    assert f"the shop “{owner.merchant.name}”" in body
    link = re.search(r"https://sparen\.example\.be(/password/reset\?t=\S+)", body)
    assert link, body
    assert "https://sparen.example.be/login" in body

    # Until then the account has no password anyone knows.
    cashier = new_client(app)
    page = cashier.get("/login")
    refused = cashier.post(
        "/login", data={"csrf_token": _csrf(html_of(page)), "email": email, "password": PASSWORD}
    )
    assert refused.status_code == 401

    form = cashier.get(link.group(1))
    assert form.status_code == 200
    chosen = cashier.post(
        link.group(1),
        data={
            "csrf_token": _csrf(html_of(form)),
            "password": "kassa-wachtwoord",
            "confirm": "kassa-wachtwoord",
        },
    )
    assert chosen.status_code == 303
    assert cashier.get(link.group(1)).status_code == 410  # the link works once
    assert sign_in_as(cashier, email, "kassa-wachtwoord") == "/portal/till"
    assert cashier.get("/portal/till").status_code == 200

    user = scalar(session, sa.select(StaffUser).where(StaffUser.email == email))
    assert user is not None
    assert (user.role, user.merchant_id, user.active) == (Role.CASHIER, owner.merchant.id, True)
    team = html_of(owner.client.get("/portal/team"))
    assert email in team and "Cashier" in team

    asked = post_form(owner.client, f"/portal/team/users/{user.id}/deactivate", "/portal/team")
    assert asked.status_code == 200 and f"Deactivate {email}?" in html_of(asked)
    assert cashier.get("/portal/till").status_code == 200  # not yet
    shut = post_form(owner.client, f"/portal/team/users/{user.id}/deactivate", "/portal/team",
                     confirmed="1")
    assert shut.status_code == 303
    after = cashier.get("/portal/till")
    assert after.status_code == 302
    assert urlsplit(after.headers["Location"]).path == "/login"
    page = cashier.get("/login")
    again = cashier.post(
        "/login",
        data={"csrf_token": _csrf(html_of(page)), "email": email, "password": "kassa-wachtwoord"},
    )
    assert again.status_code == 401
    assert DEACTIVATED in html_of(owner.client.get("/portal/team"))

    # Invited again, the same cashier gets a new link and is active again.
    assert _invite(owner, email).status_code == 303
    assert fresh(session, StaffUser, user.id).active


def test_an_address_with_an_account_cannot_be_invited(session: Session, owner: Owner) -> None:
    other = make_user(session, make_scheme(session), Role.MUNICIPALITY_ADMIN)
    for email, message in [
        (other.email, "This e-mail address already has an account."),
        (owner.user.email, "This e-mail address already has an account."),
        ("geen-adres", "This is not a valid e-mail address."),
    ]:
        answer = _invite(owner, email)
        assert answer.status_code == 422
        html = html_of(answer)
        assert re.search(r'<p class="error" id="email-error">[^<]*' + re.escape(message), html)
        assert 'aria-invalid="true"' in html
    assert (
        count(session, sa.select(StaffUser).where(StaffUser.merchant_id == owner.merchant.id)) == 1
    )


def test_an_invitation_that_cannot_be_sent_creates_no_account(
    app: Flask, session: Session, owner: Owner
) -> None:
    # A port nobody listens on: the connection is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    email = f"kassa-{uuid.uuid4().hex[:8]}@example.be"
    answer = _invite(owner, email)
    assert answer.status_code == 503
    assert "The e-mail could not be sent." in html_of(answer)
    assert count(session, sa.select(StaffUser).where(StaffUser.email == email)) == 0


def test_a_till_key_is_shown_once_works_and_can_be_revoked(owner: Owner, session: Session) -> None:
    client = owner.client
    made = post_form(client, "/portal/team/keys", "/portal/team", label="Kassa 2")
    assert made.status_code == 201
    html = html_of(made)
    assert "Copy it now: this is the only time it is shown." in html
    found = re.search(r'id="new-key"[^>]*value="(lsk_[^"]+)"', html)
    assert found
    key = found.group(1)
    assert made.headers["Cache-Control"] == "no-store"

    later = html_of(client.get("/portal/team"))
    assert key not in later
    assert key[:10] in later and "Kassa 2" in later

    claim = client.post("/api/v1/claims", json={"amount_cents": 1250}, headers=bearer(key))
    assert claim.status_code == 201, claim.json

    key_id = scalar(
        session,
        sa.select(TillKey.id).where(
            TillKey.label == "Kassa 2", TillKey.merchant_id == owner.merchant.id
        ),
    )
    asked = post_form(client, f"/portal/team/keys/{key_id}/revoke", "/portal/team")
    assert asked.status_code == 200 and "Revoke the till key “Kassa 2”?" in html_of(asked)
    revoked = post_form(client, f"/portal/team/keys/{key_id}/revoke", "/portal/team",
                        confirmed="1")
    assert revoked.status_code == 303
    refused = client.post("/api/v1/claims", json={"amount_cents": 1250}, headers=bearer(key))
    assert refused.status_code == 401
    # The shop's other key still works.
    other = client.post(
        "/api/v1/claims", json={"amount_cents": 500}, headers=bearer(owner.till_key)
    )
    assert other.status_code == 201
    assert "revoked on" in html_of(client.get("/portal/team"))


def test_a_too_long_till_name_is_refused(owner: Owner, session: Session) -> None:
    answer = post_form(owner.client, "/portal/team/keys", "/portal/team", label="x" * 101)
    assert answer.status_code == 422
    assert "At most 100 characters." in html_of(answer)
    assert 'id="new-key"' not in html_of(answer)
    assert count(session, sa.select(TillKey).where(TillKey.merchant_id == owner.merchant.id)) == 1


# -- profile -------------------------------------------------------------------------


def test_the_profile_edit_persists(owner: Owner, session: Session) -> None:
    make_merchant(session, owner.merchant.scheme, sector="56.301")
    page = owner.client.get("/portal/profile")
    html = html_of(page)
    # The sectors of the scheme's shops, labelled in the page's language.
    assert '<option selected value="47.24">' in html
    assert "56.301 · Cafés and bars" in html
    saved = post_form(
        owner.client,
        "/portal/profile",
        "/portal/profile",
        address="Kerkstraat 1",
        postcode="9170",
        opening_hours="di-za 8:00-18:00",
        sector="56.301",
        email="Info@Bakkerij.example.be",
    )
    assert saved.status_code == 303
    assert "The profile is saved." in html_of(owner.client.get(saved.headers["Location"]))
    merchant = fresh(session, Merchant, owner.merchant.id)
    assert (
        merchant.address,
        merchant.postcode,
        merchant.opening_hours,
        merchant.sector,
        merchant.email,
    ) == ("Kerkstraat 1", "9170", "di-za 8:00-18:00", "56.301", "info@bakkerij.example.be")
    shown = html_of(owner.client.get("/portal/profile"))
    assert 'value="Kerkstraat 1"' in shown and "di-za 8:00-18:00" in shown


WRONG_PROFILES = [
    ("sector", "99.99", "Choose a sector from the list."),
    ("sector", "bakker", "Choose a sector from the list."),
    ("postcode", "917", "Type a Belgian postcode of four digits, such as 9170."),
    ("postcode", "09170", "Type a Belgian postcode of four digits, such as 9170."),
    ("postcode", "", "Type the postcode of the shop."),
    ("email", "geen-adres", "This is not a valid e-mail address."),
    ("email", "", "Type the shop's e-mail address."),
    ("opening_hours", "x" * 301, "At most 300 characters."),
]


def test_a_wrong_profile_changes_nothing(owner: Owner, session: Session) -> None:
    for field, value, message in WRONG_PROFILES:
        data = {
            "address": "Nieuwe straat 9",
            "postcode": "9170",
            "opening_hours": "ma-vr",
            "sector": "47.24",
            "email": "nieuw@example.be",
        }
        data[field] = value
        answer = post_form(owner.client, "/portal/profile", "/portal/profile", **data)
        assert answer.status_code == 422, (field, value)
        assert message in form_error(html_of(answer), field), (field, value)
    merchant = fresh(session, Merchant, owner.merchant.id)
    assert (merchant.address, merchant.postcode, merchant.sector, merchant.opening_hours) == (
        None,
        "9170",
        "47.24",
        None,
    )
    assert merchant.email != "nieuw@example.be"
