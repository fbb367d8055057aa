"""Redirects to a place the request names (?next=) stay on this site.

The review found /lang/nl?next=/%09/evil.example answering Location: //evil.example
(browsers drop the tab) and a line break in next= giving a 500.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Role
from loyalty.web import local_path
from tests.factories import PASSWORD, make_scheme, make_shop, make_user
from tests.forms import complete_sign_in, csrf

ATTACKS = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\r\n/evil.example",
    "/\r\nSet-Cookie: x=1",
    "/\nLocation: https://evil.example",
    "/\x00/evil.example",
    "/\tportal",
    "/portal\n",
    "https://evil.example",
    "https:evil.example",
    "http:/evil.example",
    "//evil.example/%2f..",
    "javascript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
]


def _is_local(location: str) -> bool:
    """What a browser would do with the Location: stay on this site?"""
    seen = "".join(ch for ch in location if ch not in "\t\r\n").strip().replace("\\", "/")
    parts = urlsplit(seen)
    return seen.startswith("/") and not seen.startswith("//") and not parts.scheme \
        and not parts.netloc


@pytest.mark.parametrize("target", ATTACKS)
def test_local_path_refuses_other_sites(target: str) -> None:
    assert local_path(target, "/home") == "/home"


@pytest.mark.parametrize(
    ("target", "kept"),
    [("/wallet", "/wallet"), ("/portal/till?x=1#y", "/portal/till?x=1#y"),
     ("/lang/nl?next=/x", "/lang/nl?next=/x"), ("/a b", "/a b"), (None, "/home")],
)
def test_local_path_keeps_local_paths(target: str | None, kept: str) -> None:
    assert local_path(target, "/home") == kept


@pytest.mark.parametrize("target", ATTACKS)
def test_language_switch_redirects_only_locally(client: FlaskClient, target: str) -> None:
    answer = client.get(f"/lang/nl?next={quote(target, safe='')}")
    assert answer.status_code == 302
    assert _is_local(answer.headers["Location"]), answer.headers["Location"]
    assert answer.headers["Location"] == "/"


@pytest.fixture
def owner_email(session: Session) -> str:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    return make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant).email


@pytest.mark.parametrize("target", ATTACKS)
def test_login_redirects_only_locally(app: Flask, owner_email: str, target: str) -> None:
    client = app.test_client()
    path = f"/login?next={quote(target, safe='')}"
    page = client.get(path)
    answer = complete_sign_in(client, client.post(
        path,
        data={"csrf_token": csrf(page.get_data(as_text=True)), "email": owner_email,
              "password": PASSWORD},
    ), owner_email)
    assert answer.status_code == 303
    assert _is_local(answer.headers["Location"]), answer.headers["Location"]
    assert answer.headers["Location"] == "/portal/till"  # the owner's home


def test_login_keeps_a_local_next(app: Flask, owner_email: str) -> None:
    client = app.test_client()
    page = client.get("/login?next=/portal/team")
    answer = complete_sign_in(client, client.post(
        "/login?next=/portal/team",
        data={"csrf_token": csrf(page.get_data(as_text=True)), "email": owner_email,
              "password": PASSWORD},
    ), owner_email)
    assert answer.headers["Location"] == "/portal/team"
