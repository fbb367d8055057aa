"""The owner's own earn rate: within the scheme's bounds, from the next sale on, audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.models import AuditEntry, Merchant, Role, Scheme
from loyalty.shops import earn_rate
from loyalty.town import scheme_settings
from tests.factories import Shop, bearer, make_scheme, make_shop, make_user
from tests.merchant_portal.helpers import (
    form_error,
    fresh,
    html_of,
    new_client,
    post_form,
    sign_in_as,
)

PAGE = "/portal/earn-rate"


def _points(client: FlaskClient, shop: Shop, cents: int) -> int:
    answer = client.post("/api/v1/claims", json={"amount_cents": cents}, headers=shop.headers)
    assert answer.status_code == 201, answer.json
    return int(answer.json["points"])  # type: ignore[index]


def _owner(app: Flask, session: Session, shop: Shop) -> FlaskClient:
    user = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    client = new_client(app)
    sign_in_as(client, user.email)
    return client


def _audit(session: Session, merchant_id: int) -> list[AuditEntry]:
    session.expire_all()
    rows = list(session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.action == "merchant.earn_rate", AuditEntry.target_id == merchant_id)
        .order_by(AuditEntry.id)
    ))
    session.commit()
    return rows


def test_the_owner_raises_the_rate_and_the_next_sale_gives_it(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    shop = make_shop(session, make_scheme(session, earn_rate=1, earn_rate_max=5))
    owner = _owner(app, session, shop)
    page = html_of(owner.get(PAGE))
    assert "Your shop gives 1 point per full euro." in page
    assert "you may give up to 5" in page
    assert 'href="/portal/earn-rate"' in page  # in the owner's menu

    # A QR code shown before the change keeps its points.
    before = client.post("/api/v1/claims", json={"amount_cents": 2000}, headers=shop.headers)
    assert before.json["points"] == 20  # type: ignore[index]
    answer = post_form(owner, PAGE, PAGE, rate="3")
    assert answer.status_code == 303
    assert "done=saved" in answer.headers["Location"]
    assert _points(client, shop, 2000) == 60  # the next sale
    token = before.json["token"]  # type: ignore[index]
    status = client.get(f"/api/v1/claims/{token}", headers=shop.headers)
    assert status.json["points"] == 20  # type: ignore[index]
    assert fresh(session, Merchant, shop.merchant.id).earn_rate == 3

    [entry] = _audit(session, shop.merchant.id)
    assert entry.details == {"from": 1, "to": 3}
    assert entry.actor_id is not None  # the owner who changed it
    # Saving the same rate again changes nothing and audits nothing.
    again = post_form(owner, PAGE, PAGE, rate="3")
    assert "done=unchanged" in again.headers["Location"]
    assert len(_audit(session, shop.merchant.id)) == 1

    # Back to the scheme's rate: the shop follows the scheme again.
    post_form(owner, PAGE, PAGE, rate="1")
    assert fresh(session, Merchant, shop.merchant.id).earn_rate is None
    assert _points(client, shop, 2000) == 20


@pytest.mark.parametrize("typed", ["0", "1", "6", "100", "drie", "", "-2", "3.5"])
def test_a_rate_outside_the_bounds_gets_a_form_error(
    app: Flask, session: Session, typed: str
) -> None:
    shop = make_shop(session, make_scheme(session, earn_rate=2, earn_rate_max=5))
    owner = _owner(app, session, shop)
    answer = post_form(owner, PAGE, PAGE, rate=typed)
    if typed == "1":  # below the scheme's rate
        assert answer.status_code == 422
        assert form_error(html_of(answer), "rate") == "Between 2 and 5."
    else:
        assert answer.status_code == 422, typed
        form_error(html_of(answer), "rate")
    assert fresh(session, Merchant, shop.merchant.id).earn_rate is None
    assert _audit(session, shop.merchant.id) == []


def test_a_cashier_cannot_change_the_rate(app: Flask, session: Session) -> None:
    shop = make_shop(session)
    cashier = make_user(session, shop.scheme, Role.CASHIER, shop.merchant)
    client = new_client(app)
    sign_in_as(client, cashier.email)
    assert client.get(PAGE).status_code == 403


def test_a_lowered_maximum_caps_a_shop_above_it(session: Session) -> None:
    scheme = make_scheme(session, earn_rate=1, earn_rate_max=8, villages=["Meerdonk"])
    shop = make_shop(session, scheme)
    assert earn_rate.set_earn_rate(session, shop.merchant, None, 8)
    settings = scheme_settings.SchemeSettings.of(scheme)
    scheme_settings.update(
        session, scheme, None,
        scheme_settings.SchemeSettings(**{**settings.__dict__, "earn_rate_max": 4}),
    )
    assert earn_rate.bounds(session, shop.merchant).current == 4
    with pytest.raises(InvalidInput):
        earn_rate.set_earn_rate(session, shop.merchant, None, 5)
    # The municipality cannot set a maximum below its own rate; nor can the database.
    with pytest.raises(InvalidInput):
        scheme_settings.update(
            session, scheme, None,
            scheme_settings.SchemeSettings(**{**settings.__dict__, "earn_rate_max": 0}),
        )
    session.rollback()


def test_the_database_refuses_a_maximum_below_the_rate(session: Session) -> None:
    scheme: Scheme = make_scheme(session, earn_rate=3)
    assert scheme.earn_rate_max == 10
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(
            sa.update(Scheme).where(Scheme.id == scheme.id).values(earn_rate_max=2)
        )
    session.rollback()


def test_the_api_refuses_a_shop_above_the_maximum(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session, earn_rate_max=4)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    from tests.factories import staff_token

    token = staff_token(client, admin)
    answer = client.post(
        "/api/v1/merchants",
        json={"name": "Te gul", "sector": "47.24", "postcode": "9170",
              "email": "gul@example.be", "earn_rate": 5},
        headers=bearer(token),
    )
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "earn_rate_out_of_range"  # type: ignore[index]
