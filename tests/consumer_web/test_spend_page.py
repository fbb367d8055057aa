"""The spend page: points, credit (euros) or both for one code, with plain form errors."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import Redemption, Wallet
from loyalty.money import euros, grants
from loyalty.shoppers import wallets
from tests.factories import make_merchant, make_scheme
from tests.forms import csrf


def _text(html: str) -> str:
    return html.replace("\xa0", " ").replace("\u202f", " ")


def _wallet_with_points_and_credit(client: FlaskClient, session: Session) -> Wallet:
    """A phone's wallet with 12,50 credit from a grant and 40 points from a sale."""
    scheme = make_scheme(session, point_value_cents=5)
    shop = make_merchant(session, scheme)
    now = utcnow()
    grant = grants.create_grant(
        session, scheme, name="Geboortepremie", amount_cents=1250, budget_cents=5000,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3), who="anyone",
        now=now,
    )
    session.commit()
    page = client.get(f"/g/{grant.id}")
    assert client.post(f"/g/{grant.id}", data={
        "csrf_token": csrf(page.get_data(as_text=True))}).status_code == 200
    wallet = session.scalars(sa.select(Wallet).where(Wallet.scheme_id == scheme.id)).one()
    sale = claims.create_claim(session, shop, 4000, utcnow())
    claims.claim_points(session, sale.token, wallet, utcnow())
    session.commit()
    return wallet


def _spend(client: FlaskClient, **fields: str) -> tuple[int, str, str]:
    page = client.get("/wallet")
    answer = client.post("/wallet/spend", data={
        "csrf_token": csrf(page.get_data(as_text=True)), **fields})
    return answer.status_code, answer.headers.get("Location", ""), _text(
        answer.get_data(as_text=True))


def test_one_code_takes_points_and_credit_together(
    client: FlaskClient, session: Session
) -> None:
    client.set_cookie("lang", "nl")
    wallet = _wallet_with_points_and_credit(client, session)
    assert wallets.points_balance(session, wallet) > 20
    session.commit()  # end the read: on SQLite it would keep seeing this moment

    status, location, _ = _spend(client, points="20", euros="7,50")
    assert status == 303 and "/wallet/code/" in location
    held = session.scalars(sa.select(Redemption).where(Redemption.wallet_id == wallet.id)).one()
    assert (held.points, held.euro_cents, held.discount_cents) == (20, 750, 20 * 5 + 750)
    code_page = _text(client.get(location).get_data(as_text=True))
    assert "€ 8,50 korting: 20 punten en € 7,50 tegoed" in code_page

    status, location, _ = _spend(client, euros="5")  # credit only
    assert status == 303
    session.commit()
    assert euros.balance(session, wallet) == 0


def test_the_spend_form_says_what_is_wrong_in_the_shoppers_language(
    client: FlaskClient, session: Session
) -> None:
    client.set_cookie("lang", "nl")
    wallet = _wallet_with_points_and_credit(client, session)

    status, _, text = _spend(client)
    assert status == 422 and "Kies punten, tegoed of allebei." in text
    status, _, text = _spend(client, euros="20,00")
    assert status == 422 and "Je hebt € 12,50 tegoed: kies hoogstens zoveel." in text
    status, _, text = _spend(client, euros="12,5O")
    assert status == 422 and "23,50" in text  # the example of an amount in euros
    status, _, text = _spend(client, points="100000", euros="1")
    assert status == 422 and "Zoveel punten heb je niet." in text

    client.set_cookie("lang", "fr")
    status, _, text = _spend(client)
    assert status == 422 and "Choisissez des points, du crédit ou les deux." in text
    client.set_cookie("lang", "en")
    status, _, text = _spend(client, euros="99")
    assert status == 422 and "You have €12.50 credit: choose at most that." in text
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Redemption).where(
        Redemption.wallet_id == wallet.id)) == 0
