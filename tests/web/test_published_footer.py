"""Every page of the three front ends links the published texts from its foot: the
shopper's pages, the shop's (its sign-in, application and till included) and the
municipality's dashboard, error pages too. Staff pages name their own scheme."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import MerchantStatus, Role
from tests.factories import make_merchant, make_scheme, make_shop, make_user
from tests.forms import signed_in

TEXTS = ("rules", "privacy", "shop-terms")
FOOTER = re.compile(r"<footer.*?</footer>", re.DOTALL)


def footer_links(client: FlaskClient, path: str, status: int = 200) -> list[str]:
    answer = client.get(path)
    assert answer.status_code == status, (path, answer.status_code)
    page = answer.get_data(as_text=True)
    [footer] = FOOTER.findall(page)
    nav = re.search(r'<nav aria-label="The savings scheme" class="published-links">(.*?)</nav>',
                    footer, re.DOTALL)
    assert nav, f"{path}: no links to the published texts in\n{footer}"
    return re.findall(r'href="([^"]+)"', nav.group(1))


def _client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("lang", "en")
    return client


def test_the_shoppers_pages(app: Flask, session: Session) -> None:
    shop = make_shop(session)
    client = _client(app)
    token = client.post("/api/v1/claims", json={"amount_cents": 500},
                        headers=shop.headers).json["token"]  # type: ignore[index]
    # (Not /account: its age field gives wtforms a deprecated kind of choices, a
    # warning the suite turns into an error.)
    for path, status in [("/", 200), ("/shops", 200),
                         (f"/c/{token}", 200), ("/rules", 200), ("/no-such-page", 404)]:
        assert footer_links(client, path, status) == [f"/{t}" for t in TEXTS], path


def test_the_shops_pages_sign_in_application_and_till(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    cashier = make_user(session, scheme, Role.CASHIER, merchant)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, merchant)
    visitor = _client(app)
    for path in ("/login", "/password/forgot", "/portal/apply"):
        assert footer_links(visitor, path) == [f"/{t}" for t in TEXTS], path
    apply = visitor.get("/portal/apply").get_data(as_text=True)
    assert '<a href="/shop-terms">Read the terms for shops</a>' in apply

    mine = [f"/{t}/{scheme.slug}" for t in TEXTS]
    till = _client(app)
    signed_in(till, cashier.email)
    assert footer_links(till, "/portal/till") == mine
    assert footer_links(till, "/portal/statements", 403) == mine  # owners only
    boss = _client(app)
    signed_in(boss, owner.email)
    for path in ("/portal/statements", "/portal/team", "/account/password"):
        assert footer_links(boss, path) == mine, path
    # A shop still waiting for approval reads the same terms.
    pending = make_merchant(session, scheme, status=MerchantStatus.PENDING)
    waiting = _client(app)
    signed_in(waiting, make_user(session, scheme, Role.MERCHANT_OWNER, pending).email)
    assert footer_links(waiting, "/account/password") == mine


def test_the_dashboard(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    mine = [f"/{t}/{scheme.slug}" for t in TEXTS]
    client = _client(app)
    signed_in(client, admin.email)
    for path in ("/dashboard/", "/dashboard/settings", "/dashboard/texts",
                 "/dashboard/texts/privacy/fr", "/dashboard/audit"):
        assert footer_links(client, path) == mine, path
    reader = _client(app)
    signed_in(reader, analyst.email)
    assert footer_links(reader, "/dashboard/") == mine
    assert footer_links(reader, "/dashboard/settings", 403) == mine
    assert footer_links(reader, "/dashboard/texts/nope/fr", 404) == mine
