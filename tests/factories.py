"""Test data, made through the domain functions and committed."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pyotp
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.access import staff, totp
from loyalty.infra.db import sqlite_begin_mode, utcnow
from loyalty.models import Merchant, MerchantStatus, Role, Scheme, StaffUser
from loyalty.shoppers import wallets
from loyalty.town import schemes

PASSWORD = "correct-horse-battery"
# The authenticator secret of every enrolled user the factories make.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_counter = itertools.count(1)


def make_scheme(session: Session, **settings: Any) -> Scheme:
    slug = f"test-{uuid.uuid4().hex[:12]}"
    scheme = schemes.create_scheme(session, slug, f"Gemeente {slug}", **settings)
    session.commit()
    return scheme


def make_merchant(
    session: Session,
    scheme: Scheme,
    *,
    status: MerchantStatus = MerchantStatus.APPROVED,
    sector: str = "47.24",
    **kw: Any,
) -> Merchant:
    n = next(_counter)
    merchant = schemes.create_merchant(
        session,
        scheme,
        name=kw.pop("name", f"Winkel {n}"),
        sector=sector,
        postcode=kw.pop("postcode", "9170"),
        email=kw.pop("email", f"shop{n}@example.be"),
        status=status,
        **kw,
    )
    session.commit()
    return merchant


def make_till_key(session: Session, merchant: Merchant) -> str:
    key = staff.create_till_key(session, merchant, utcnow()).secret
    session.commit()
    return key


def make_wallet_token(session: Session, scheme: Scheme) -> str:
    token = wallets.create_wallet(session, scheme).token
    session.commit()
    return token


def make_user(
    session: Session,
    scheme: Scheme,
    role: Role,
    merchant: Merchant | None = None,
    *,
    enrolled: bool | None = None,
) -> StaffUser:
    """A staff user; enrolled in two-factor sign-in with TOTP_SECRET when ``enrolled``,
    by default when the role requires it (as it would be after the first sign-in)."""
    user = staff.create_user(
        session,
        scheme,
        email=f"user{uuid.uuid4().hex[:10]}@example.be",
        password=PASSWORD,
        role=role,
        merchant=merchant,
    )
    if role in totp.REQUIRED_ROLES if enrolled is None else enrolled:
        user.totp_secret = TOTP_SECRET
        user.totp_enrolled_at = utcnow()
    session.commit()
    return user


def otp(app: Flask, user_id: int, secret: str = TOTP_SECRET) -> str:
    """A code the server accepts now for this user (see code_after)."""
    token = sqlite_begin_mode.set("DEFERRED")
    try:
        with app.extensions["loyalty.sessions"]() as s:
            last = s.scalar(sa.select(StaffUser.totp_last_step).where(StaffUser.id == user_id))
    finally:
        sqlite_begin_mode.reset(token)
    return code_after(last, secret)


def code_after(last_step: int | None, secret: str = TOTP_SECRET) -> str:
    """A code of the current or the next time step, later than the last one used
    (waiting for the next step if both are used): each code is good once."""
    current = int(time.time()) // totp.STEP_SECONDS
    step = current if last_step is None else max(current, last_step + 1)
    if step > current + 1:
        time.sleep((step - 1) * totp.STEP_SECONDS - time.time() + 0.1)
    return pyotp.TOTP(secret).generate_otp(step)


def staff_token(client: FlaskClient, user: StaffUser) -> str:
    body = {"email": user.email, "password": PASSWORD}
    if user.totp_enrolled_at is not None:
        body["otp"] = otp(client.application, user.id)
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 201, response.json
    token: str = response.json["token"]  # type: ignore[index]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Shop:
    """An approved shop with a till key, in its own scheme."""

    scheme: Scheme
    merchant: Merchant
    till_key: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.till_key)


def make_shop(session: Session, scheme: Scheme | None = None, **kw: Any) -> Shop:
    scheme = scheme or make_scheme(session)
    merchant = make_merchant(session, scheme, **kw)
    return Shop(scheme, merchant, make_till_key(session, merchant))
