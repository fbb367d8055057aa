"""A shop applies, cannot give points until the municipality approves it, then can."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Merchant, MerchantStatus, Role
from tests.conftest import Mailbox
from tests.factories import PASSWORD, make_scheme, make_user
from tests.forms import csrf as _csrf
from tests.forms import sign_in


def _sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    done = sign_in(client, email, password)
    if done.status_code == 200:  # a new shop owner sets up two-factor sign-in first
        assert "Your recovery codes" in done.get_data(as_text=True)
    else:
        assert done.status_code == 303, done.get_data(as_text=True)


def _sign_out(client: FlaskClient) -> None:
    page = client.get("/account/password")
    client.post("/logout", data={"csrf_token": _csrf(page.get_data(as_text=True))})


def test_apply_wait_for_approval_then_give_points(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    email = f"owner-{uuid.uuid4().hex[:8]}@koffiebar.example"
    form = client.get("/portal/apply")
    assert form.status_code == 200
    data = {
        "csrf_token": _csrf(form.get_data(as_text=True)),
        "scheme": scheme.slug,
        "name": "Koffiebar Bonen & Co",
        "sector": "56.301",
        "address": "Stationsstraat 2, 9170 Sint-Gillis-Waas",
        "postcode": "9170",
        "email": email,
        "password": "een-lang-wachtwoord",
    }
    bad = client.post("/portal/apply", data={**data, "postcode": "91"})
    assert bad.status_code == 422
    sent = client.post("/portal/apply", data=data)
    assert sent.status_code == 303
    shop = session.scalars(sa.select(Merchant).where(Merchant.email == email)).one()
    assert shop.status == MerchantStatus.PENDING
    session.rollback()

    # The owner can sign in, but the till cannot give points yet.
    _sign_in(client, email, "een-lang-wachtwoord")
    till = client.get("/portal/till")
    assert "waiting for the municipality" in till.get_data(as_text=True)
    refused = client.post(
        "/portal/till", data={"csrf_token": _csrf(till.get_data(as_text=True)), "amount": "12,00"}
    )
    assert refused.status_code == 422
    assert "not approved yet" in refused.get_data(as_text=True)
    _sign_out(client)

    # The municipality approves it.
    _sign_in(client, admin.email)
    shops = client.get("/dashboard/shops")
    assert "Koffiebar Bonen &amp; Co" in shops.get_data(as_text=True)
    approved = client.post(
        f"/dashboard/shops/{shop.id}/approve",
        data={"csrf_token": _csrf(shops.get_data(as_text=True))},
    )
    assert approved.status_code == 303
    _sign_out(client)

    _sign_in(client, email, "een-lang-wachtwoord")
    till = client.get("/portal/till")
    sale = client.post(
        "/portal/till", data={"csrf_token": _csrf(till.get_data(as_text=True)), "amount": "12,00"}
    )
    assert sale.status_code == 303
    assert "12 points" in client.get(sale.headers["Location"]).get_data(as_text=True)


def test_only_the_schemes_admin_decides(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    other = make_scheme(session)
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    foreign_admin = make_user(session, other, Role.MUNICIPALITY_ADMIN)
    from loyalty.shops import onboarding

    shop = onboarding.apply(
        session,
        scheme_slug=scheme.slug,
        name="Bloemen Margriet",
        sector="47.76",
        postcode="9170",
        address="Kerkplein 2",
        email=f"m-{uuid.uuid4().hex[:8]}@example.be",
        password="een-lang-wachtwoord",
    )
    session.commit()

    _sign_in(client, analyst.email)
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/dashboard/shops").status_code == 403
    token = _csrf(client.get("/account/password").get_data(as_text=True))
    assert (
        client.post(f"/dashboard/shops/{shop.id}/approve", data={"csrf_token": token}).status_code
        == 403
    )
    _sign_out(client)

    _sign_in(client, foreign_admin.email)
    token = _csrf(client.get("/dashboard/shops").get_data(as_text=True))
    assert (
        client.post(f"/dashboard/shops/{shop.id}/approve", data={"csrf_token": token}).status_code
        == 404
    )
    session.expire_all()
    assert session.get_one(Merchant, shop.id).status == MerchantStatus.PENDING


def test_a_form_without_csrf_token_is_refused(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    _sign_in(client, admin.email)
    assert client.post("/dashboard/shops/1/approve", data={}).status_code == 400


def test_the_form_does_not_tell_whether_an_address_has_a_login(
    app: Flask, session: Session, smtp_server: tuple[str, int, Mailbox]
) -> None:
    """The review: applying with an address that has a login said so. Now the
    answers are the same as for a new address; the holder gets an e-mail."""
    smtp_host, smtp_port, mailbox = smtp_server
    app.config.update(MAIL_SERVER=smtp_host, MAIL_PORT=smtp_port)
    scheme = make_scheme(session)
    taken = make_user(session, scheme, Role.MUNICIPALITY_ANALYST).email
    new = f"new-{uuid.uuid4().hex[:8]}@example.be"

    def answers(email: str) -> list[tuple[int, str | None, str]]:
        client = app.test_client()
        client.set_cookie("lang", "en")
        form = client.get("/portal/apply")
        data = {
            "csrf_token": _csrf(form.get_data(as_text=True)),
            "scheme": scheme.slug, "name": "Fietsen Fons", "sector": "47.64",
            "address": "Kerkstraat 1", "postcode": "9170", "email": email,
            "password": "een-lang-wachtwoord",
        }
        seen = []
        # A mistake elsewhere in the form, then the whole form.
        for changes in ({"postcode": "91"}, {"password": "kort"}, {}):
            answer = client.post("/portal/apply", data={**data, **changes})
            page = answer.get_data(as_text=True)
            page = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", page)
            seen.append((answer.status_code, answer.headers.get("Location"),
                         page.replace(email, "ADDRESS")))
        return seen

    for_taken, for_new = answers(taken), answers(new)
    assert for_taken == for_new
    assert [status for status, _, _ in for_new] == [422, 422, 303]
    # The holder of the login is told; no shop was made for the address.
    body = mailbox.wait_for(taken).get_content()
    assert "already has a login" in body and "https://sparen.example.be/login" in body
    assert session.scalar(sa.select(Merchant.id).where(Merchant.email == taken)) is None
    assert session.scalar(sa.select(Merchant.id).where(Merchant.email == new)) is not None
