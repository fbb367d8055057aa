"""Test data, made through the domain functions and committed."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty import schemes, staff, wallets
from loyalty.db import utcnow
from loyalty.models import Merchant, MerchantStatus, Role, Scheme, StaffUser

PASSWORD = "correct-horse-battery"
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
        email=f"shop{n}@example.be",
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
    session: Session, scheme: Scheme, role: Role, merchant: Merchant | None = None
) -> StaffUser:
    user = staff.create_user(
        session,
        scheme,
        email=f"user{uuid.uuid4().hex[:10]}@example.be",
        password=PASSWORD,
        role=role,
        merchant=merchant,
    )
    session.commit()
    return user


def staff_token(client: FlaskClient, user: StaffUser) -> str:
    response = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
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
