"""Staff sign-in: revocable server-side sessions, idle timeout, password reset by e-mail."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Role, StaffSession
from tests.conftest import Mailbox
from tests.factories import PASSWORD, make_scheme, make_shop, make_user
from tests.forms import csrf as _csrf
from tests.forms import sign_in


def _owner(session: Session):  # type: ignore[no-untyped-def]
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    return make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant)


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/portal/till").status_code == 200


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient, session: Session) -> None:
    owner = _owner(session)
    done = sign_in(client, owner.email)
    assert done.status_code == 303
    cookie = next(c for c in done.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_revokes_the_server_side_session(app: Flask, session: Session) -> None:
    owner = _owner(session)
    client = app.test_client()
    sign_in(client, owner.email)
    stolen = client.get_cookie("session")
    assert stolen is not None
    token = _csrf(client.get("/portal/till").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    # Replaying the old cookie in another browser opens nothing: the record is revoked.
    thief = app.test_client()
    thief.set_cookie("session", stolen.value)
    assert thief.get("/portal/till").status_code == 302
    revoked = session.scalars(
        sa.select(StaffSession.revoked_at).where(StaffSession.user_id == owner.id)
    ).all()
    assert revoked and all(at is not None for at in revoked)


def test_idle_sessions_end_but_a_remembered_till_stays(app: Flask, session: Session) -> None:
    owner = _owner(session)
    office, till = app.test_client(), app.test_client()
    sign_in(office, owner.email)
    sign_in(till, owner.email, remember="y")
    assert _signed_in(office) and _signed_in(till)
    session.execute(
        sa.update(StaffSession)
        .where(StaffSession.user_id == owner.id)
        .values(last_seen_at=utcnow() - timedelta(minutes=31))
    )
    session.commit()
    assert not _signed_in(office)  # 30 idle minutes end an ordinary session
    assert _signed_in(till)  # the remembered tablet has 12 idle hours


def test_changing_the_password_signs_out_every_device(app: Flask, session: Session) -> None:
    owner = _owner(session)
    phone, pc = app.test_client(), app.test_client()
    sign_in(phone, owner.email)
    sign_in(pc, owner.email)
    page = pc.get("/account/password")
    changed = pc.post(
        "/account/password",
        data={
            "csrf_token": _csrf(page.get_data(as_text=True)),
            "current": PASSWORD,
            "password": "een-nieuw-wachtwoord",
            "confirm": "een-nieuw-wachtwoord",
        },
    )
    assert changed.status_code == 303
    assert not _signed_in(phone) and not _signed_in(pc)
    assert sign_in(app.test_client(), owner.email).status_code == 401
    assert sign_in(app.test_client(), owner.email, "een-nieuw-wachtwoord").status_code == 303


def test_forgotten_password_by_e_mail_link(
    app: Flask, session: Session, smtp_server: tuple[str, int, Mailbox]
) -> None:
    host, port, mailbox = smtp_server
    app.config.update(MAIL_SERVER=host, MAIL_PORT=port)
    owner = _owner(session)
    client = app.test_client()
    client.set_cookie("lang", "en")
    page = client.get("/password/forgot")
    sent = client.post(
        "/password/forgot",
        data={"csrf_token": _csrf(page.get_data(as_text=True)), "email": owner.email},
    )
    assert sent.status_code == 200 and "we sent it a link" in sent.get_data(as_text=True)
    body = mailbox.wait_for(owner.email).get_content()
    link = re.search(r"https?://\S+/password/reset\?t=\S+", body)
    assert link, body
    path = link.group(0).split("://", 1)[1].split("/", 1)[1]
    form = client.get("/" + path)
    assert form.status_code == 200
    reset = client.post(
        "/" + path,
        data={
            "csrf_token": _csrf(form.get_data(as_text=True)),
            "password": "een-nieuw-wachtwoord",
            "confirm": "een-nieuw-wachtwoord",
        },
    )
    assert reset.status_code == 303
    assert client.get("/" + path).status_code == 410  # the link works once
    assert sign_in(app.test_client(), owner.email, "een-nieuw-wachtwoord").status_code == 303

    # An unknown address gets the same answer and no e-mail.
    before = len(mailbox.messages)
    page = client.get("/password/forgot")
    same = client.post(
        "/password/forgot",
        data={"csrf_token": _csrf(page.get_data(as_text=True)), "email": "nobody@example.be"},
    )
    assert same.status_code == 200 and "we sent it a link" in same.get_data(as_text=True)
    assert len(mailbox.messages) == before
