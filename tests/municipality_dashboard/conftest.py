"""Fixtures of the dashboard's administration tests: signed-in municipality staff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.models import AuditEntry, Role, Scheme, StaffUser
from tests import forms
from tests.factories import PASSWORD, make_scheme, make_user
from tests.forms import csrf


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    """A client signed in through the login form, reading English pages."""
    client = app.test_client()
    forms.signed_in(client, email, password)
    return client


def token_of(client: FlaskClient) -> str:
    """A valid CSRF token of the signed-in session (from a page every staff member sees)."""
    return csrf(html(client.get("/account/password")))


def post(client: FlaskClient, url: str, **data: Any) -> TestResponse:
    return client.post(url, data={"csrf_token": token_of(client), **data})


def audit_rows(session: Session, scheme_id: int, action: str | None = None) -> list[AuditEntry]:
    """The scheme's audit entries, oldest first, read in a transaction that ends at once."""
    session.expire_all()
    stmt = sa.select(AuditEntry).where(AuditEntry.scheme_id == scheme_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    rows = list(session.scalars(stmt.order_by(AuditEntry.id)))
    session.commit()
    return rows


@dataclass
class Municipality:
    scheme: Scheme
    admin: StaffUser
    analyst: StaffUser
    admin_client: FlaskClient
    analyst_client: FlaskClient


def make_municipality(
    app: Flask, session: Session, name: str | None = None, **settings: Any
) -> Municipality:
    scheme = make_scheme(session, **settings)
    if name:
        scheme.name = name
        session.commit()
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    session.rollback()
    return Municipality(
        scheme, admin, analyst, signed_in(app, admin.email), signed_in(app, analyst.email)
    )


@pytest.fixture
def town(app: Flask, session: Session) -> Municipality:
    return make_municipality(
        app, session, villages=["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"]
    )


