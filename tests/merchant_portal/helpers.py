"""What the owner-page tests share: a signed-in test client, its pages and forms."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.factories import (
    PASSWORD,
)
from tests.forms import csrf as _csrf
from tests.forms import signed_in

T = TypeVar("T")


def html_of(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def scalar(session: Session, stmt: sa.Select) -> Any:
    """One value, read in a transaction that ends at once, so that the next
    read sees what the app commits meanwhile and no lock outlives the read."""
    value = session.scalar(stmt)
    session.commit()
    return value


def fresh(session: Session, model: type[T], ident: int) -> T:
    """The row as the app left it, read the same way as scalar."""
    session.expire_all()
    row = session.get_one(model, ident)
    session.commit()
    return row


def new_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    # The messages are English msgids: English pages compare whatever the
    # Dutch catalogue says later.
    client.set_cookie("lang", "en")
    return client


def sign_in_as(client: FlaskClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; the page it sends the user to."""
    return str(signed_in(client, email, password).headers["Location"])


def post_form(client: FlaskClient, url: str, page: str, **data: str) -> TestResponse:
    """Post a form of ``page`` (whose CSRF token it takes) to ``url``."""
    token = _csrf(html_of(client.get(page)))
    return client.post(url, data={"csrf_token": token, **data})


def form_error(html: str, field: str) -> str:
    """The error text next to a field, checking that the field points at it."""
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error, f"no error next to {field}"
    control = re.search(rf'<(?:input|select|textarea)[^>]*id="{field}"[^>]*>', html)
    assert control, field
    assert 'aria-invalid="true"' in control.group(0)
    assert f"{field}-error" in control.group(0)  # aria-describedby names the error
    return error.group(1)
