"""Claiming a grant on its page: the first tap makes the wallet, the wallet page shows
the credit with its origin and expiry, a second tap and a spent budget are refused."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Wallet
from loyalty.money import grants
from loyalty.spending import redemptions
from tests.factories import make_scheme
from tests.forms import csrf


def _claim(client: FlaskClient, grant_id: int) -> tuple[int, str]:
    page = client.get(f"/g/{grant_id}")
    assert page.status_code == 200
    answer = client.post(f"/g/{grant_id}", data={"csrf_token": csrf(page.get_data(as_text=True))})
    return answer.status_code, _text(answer.get_data(as_text=True))


def _text(html: str) -> str:
    return html.replace("\xa0", " ").replace("\u202f", " ")


def test_a_grant_is_claimed_on_its_page_and_shown_in_the_wallet(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    now = utcnow()
    grant = grants.create_grant(
        session, scheme, name="Dank aan vrijwilligers", amount_cents=1250, budget_cents=1250,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3), who="anyone",
        now=now,
    )
    session.commit()
    client.set_cookie("lang", "nl")

    status, text = _claim(client, grant.id)
    assert status == 200, text
    assert "€ 12,50" in text
    assert "herstelcode" in text.lower()  # a new wallet: its recovery code, once

    wallet = _text(client.get("/wallet").get_data(as_text=True))
    assert "Tegoed" in wallet
    assert "€ 12,50 van Dank aan vrijwilligers, geldig tot" in wallet

    # Part of the credit on a spend code: the wallet lists the code with its discount.
    wallet_row = session.scalars(
        sa.select(Wallet).where(Wallet.scheme_id == scheme.id).order_by(Wallet.id.desc())
    ).first()
    assert wallet_row is not None
    redemptions.create_redemption(session, wallet_row, 0, utcnow(), euro_cents=250)
    session.commit()
    wallet = _text(client.get("/wallet").get_data(as_text=True))
    assert "€ 2,50 korting, geldig tot" in wallet
    assert "€ 10,00 van Dank aan vrijwilligers" in wallet

    page = client.get(f"/g/{grant.id}").get_data(as_text=True)
    again = client.post(f"/g/{grant.id}", data={"csrf_token": csrf(page)})
    assert again.status_code == 409
    assert "Al aangevraagd" in again.get_data(as_text=True)

    other = client.application.test_client()
    other.set_cookie("lang", "en")
    status, text = _claim(other, grant.id)
    assert status == 409
    assert "No more budget" in text


def test_unknown_and_closed_grants_get_a_friendly_page(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    now = utcnow()
    later = grants.create_grant(
        session, scheme, name="Later", amount_cents=500, budget_cents=500,
        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2), who="anyone", now=now,
    )
    session.commit()
    client.set_cookie("lang", "fr")
    assert client.get("/g/999999").status_code == 404
    closed = client.get(f"/g/{later.id}")
    assert closed.status_code == 410
    assert "Pas encore" in closed.get_data(as_text=True)


def test_a_grant_for_code_holders_asks_the_code_and_one_for_villages_the_village(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session, villages=["Belsele", "Sinaai"])
    now = utcnow()
    coded = grants.create_grant(
        session, scheme, name="Met code", amount_cents=800, budget_cents=8000,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3), who="code", now=now,
    )
    [code] = grants.issue_codes(session, coded, 1, now, issued_by=None)
    villages = grants.create_grant(
        session, scheme, name="Voor Sinaai", amount_cents=600, budget_cents=6000,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3), who="villages",
        villages=["Sinaai"], now=now,
    )
    session.commit()
    client.set_cookie("lang", "en")

    page = client.get(f"/g/{coded.id}").get_data(as_text=True)
    assert 'name="code"' in page
    wrong = client.post(f"/g/{coded.id}", data={"csrf_token": csrf(page), "code": "nope"})
    assert wrong.status_code == 403
    assert "Wrong code" in wrong.get_data(as_text=True)
    right = client.post(f"/g/{coded.id}", data={"csrf_token": csrf(page), "code": code})
    assert right.status_code == 200, right.get_data(as_text=True)
    assert "€8.00" in _text(right.get_data(as_text=True))
    other = client.application.test_client()
    other.set_cookie("lang", "en")
    page = other.get(f"/g/{coded.id}").get_data(as_text=True)
    used = other.post(f"/g/{coded.id}", data={"csrf_token": csrf(page), "code": code})
    assert used.status_code == 409
    assert "Code already used" in used.get_data(as_text=True)

    # The phone's wallet chose no village yet: the page says to choose it first.
    page = client.get(f"/g/{villages.id}").get_data(as_text=True)
    assert "For residents of Sinaai." in page
    assert "Choose your village on your account page first" in page
    token = csrf(client.get(f"/g/{coded.id}").get_data(as_text=True))  # any form's token
    refused = client.post(f"/g/{villages.id}", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "This grant is for residents of Sinaai." in refused.get_data(as_text=True)
    wallet = session.scalars(
        sa.select(Wallet).where(Wallet.scheme_id == scheme.id).order_by(Wallet.id)
    ).first()
    assert wallet is not None
    wallet.home_village = "Sinaai"
    session.commit()
    page = client.get(f"/g/{villages.id}").get_data(as_text=True)
    claimed = client.post(f"/g/{villages.id}", data={"csrf_token": csrf(page)})
    assert claimed.status_code == 200
