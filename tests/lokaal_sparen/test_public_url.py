"""Absolute URLs come from PUBLIC_URL only; requests for any other host are refused.

A forged Host header must never reach a mailed link (the review found
password-reset and wallet-restore links pointing at the attacker's host).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import Role
from loyalty.shoppers import wallets
from tests.conftest import Mailbox, free_port, serve
from tests.factories import make_scheme, make_shop, make_user
from tests.forms import csrf

PUBLIC = "https://sparen.example.be"
FORGED_HOSTS = ["evil.example", "evil.example:443", "sparen.example.be.evil.example"]


def _links(body: str) -> list[str]:
    return re.findall(r"https?://\S+", body)


def _attack(
    app: Flask, mailbox: Mailbox, to: str, host: str, form: str, action: str,
    data: dict[str, str], csrf_field: str = "csrf_token",
) -> None:
    """What an attacker does: ask for the form and send it, both with a forged Host;
    the site must refuse, or mail a link on PUBLIC_URL only."""
    attacker = app.test_client()
    before = len(mailbox.messages)
    page = attacker.get(form, headers={"Host": host})
    if page.status_code == 400:
        return
    sent = attacker.post(
        action,
        headers={"Host": host},
        data={csrf_field: csrf(page.get_data(as_text=True)), **data},
    )
    if sent.status_code == 400:
        return
    assert sent.status_code in (200, 303), sent.status_code
    body = mailbox.wait_for(to).get_content()
    assert len(mailbox.messages) > before
    links = _links(body)
    assert links, body
    for link in links:
        assert link.startswith(PUBLIC + "/"), link


@pytest.mark.parametrize("host", FORGED_HOSTS)
def test_a_forged_host_never_reaches_a_password_reset_link(
    app: Flask, session: Session, smtp_server: tuple[str, int, Mailbox], host: str
) -> None:
    smtp_host, smtp_port, mailbox = smtp_server
    app.config.update(MAIL_SERVER=smtp_host, MAIL_PORT=smtp_port)
    scheme = make_scheme(session)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, make_shop(session, scheme).merchant)
    _attack(app, mailbox, owner.email, host, "/password/forgot", "/password/forgot",
            {"email": owner.email})


@pytest.mark.parametrize("host", FORGED_HOSTS)
def test_a_forged_host_never_reaches_a_wallet_restore_link(
    app: Flask, session: Session, smtp_server: tuple[str, int, Mailbox], host: str
) -> None:
    smtp_host, smtp_port, mailbox = smtp_server
    app.config.update(MAIL_SERVER=smtp_host, MAIL_PORT=smtp_port)
    scheme = make_scheme(session)
    email = f"spaarder-{host.replace(':', '-')}@example.be"
    wallets.set_email(session, wallets.create_wallet(session, scheme).wallet, email)
    session.commit()
    _attack(app, mailbox, email, host, "/account", "/account/restore-email",
            {"restore-email": email}, csrf_field="restore-csrf_token")


def test_the_reviewed_attack_on_a_server_started_without_public_url(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
    session: Session,
) -> None:
    """The review's setup: `loyalty serve` without PUBLIC_URL, a forged Host on the
    password and wallet forms. Either the server does not start, or no mail may
    carry the forged host."""
    smtp_host, smtp_port, mailbox = smtp_server
    scheme = make_scheme(session)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, make_shop(session, scheme).merchant)
    saver = "spaarder-zonder-public-url@example.be"
    wallets.set_email(session, wallets.create_wallet(session, scheme).wallet, saver)
    session.commit()
    env = {"PUBLIC_URL": "", "MAIL_SERVER": smtp_host, "MAIL_PORT": str(smtp_port)}
    try:
        with serve(database_url, tmp_path_factory, mailbox, env, workers=1) as server:
            for form, action, data, to in [
                ("/password/forgot", "/password/forgot", {"email": owner.email}, owner.email),
                ("/account", "/account/restore-email", {"restore-email": saver}, saver),
            ]:
                attacker = requests.Session()
                forged = {"Host": "evil.example"}
                page = attacker.get(server.url + form, headers=forged, timeout=30)
                field = "restore-csrf_token" if "restore-email" in data else "csrf_token"
                sent = attacker.post(
                    server.url + action, headers=forged, allow_redirects=False, timeout=30,
                    data={field: csrf(page.text), **data},
                )
                assert sent.status_code in (200, 303), sent.status_code
                for link in _links(mailbox.wait_for(to).get_content()):
                    assert "evil.example" not in link, link
    except RuntimeError as refused:  # the server did not start
        assert "PUBLIC_URL must be set" in str(refused)


def test_mailed_links_are_on_public_url(
    app: Flask, session: Session, smtp_server: tuple[str, int, Mailbox]
) -> None:
    smtp_host, smtp_port, mailbox = smtp_server
    app.config.update(MAIL_SERVER=smtp_host, MAIL_PORT=smtp_port)
    scheme = make_scheme(session)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, make_shop(session, scheme).merchant)
    client = app.test_client()
    page = client.get("/password/forgot")
    assert client.post(
        "/password/forgot",
        data={"csrf_token": csrf(page.get_data(as_text=True)), "email": owner.email},
    ).status_code == 200
    links = _links(mailbox.wait_for(owner.email).get_content())
    assert links and all(link.startswith(PUBLIC + "/password/reset?t=") for link in links)


@pytest.mark.parametrize("host", FORGED_HOSTS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/login"),
        ("GET", "/account"),
        ("GET", "/password/forgot"),
        ("GET", "/portal/apply"),
        ("GET", "/api/v1/merchants"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/claims"),
    ],
)
def test_a_request_for_another_host_gets_400(
    app: Flask, method: str, path: str, host: str
) -> None:
    client = app.test_client()
    assert client.open(path, method=method).status_code != 400  # the public host answers
    assert client.open(path, method=method, headers={"Host": host}).status_code == 400


def test_serve_refuses_to_start_without_public_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_URL"}
    for value in (None, "", "sparen.example.be"):
        if value is not None:
            env["PUBLIC_URL"] = value
        result = subprocess.run(
            [sys.executable, "-m", "lokaal_sparen", "serve", "--port", str(free_port())],
            env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x"},
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
        )
        assert result.returncode != 0
        errors = result.stderr.strip().splitlines()
        assert len(errors) == 1 and "PUBLIC_URL" in errors[0], result.stderr
