"""The shopper's social-tariff page: the code of the social service entitles the
phone's wallet, and the page says until when (only to the shopper)."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.money import social
from loyalty.shoppers import wallets
from tests.factories import make_scheme
from tests.forms import csrf


def test_a_shopper_enters_the_code_on_the_wallet_page(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session, social_monthly_cents=2000)
    created = wallets.create_wallet(session, scheme)
    today = utcnow().date()
    [code] = social.issue_codes(session, scheme, 1, today + timedelta(days=30), by=None,
                                today=today, now=utcnow())
    session.commit()
    client.set_cookie("lang", "nl")
    # The phone's cookie as an older version wrote it: one wallet's token, signed.
    signed = URLSafeSerializer(client.application.config["SECRET_KEY"],
                               salt="wallet-cookie").dumps(created.token)
    client.set_cookie("ls_wallet", signed)
    page = client.get("/social-tariff")
    assert page.status_code == 200, page.status_code
    text = page.get_data(as_text=True)
    wrong = client.post("/social-tariff", data={"csrf_token": csrf(text),
                                                "code": "AAAA-BBBB-CCCC-DDDD"})
    assert wrong.status_code == 403
    done = client.post("/social-tariff", data={"csrf_token": csrf(text), "code": code})
    assert done.status_code == 303
    shown = client.get(done.headers["Location"]).get_data(as_text=True).replace("\xa0", " ")
    assert "kansentarief tot" in shown
    assert "€ 20,00" in shown
