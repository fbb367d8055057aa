"""A spend code with town money at the shop's till page: the total discount, its
points and its euros; confirming it makes the euros the shop's."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Role
from loyalty.money import euros, grants, ledger
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import make_scheme, make_shop, make_user
from tests.forms import csrf, signed_in


def test_the_till_shows_and_confirms_a_code_with_euros(
    client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    now = utcnow()
    grant = grants.create_grant(
        session, scheme, name="Premie", amount_cents=800, budget_cents=800,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1), who="anyone", now=now,
    )
    wallet = wallets.create_wallet(session, scheme).wallet
    grants.claim(session, grant, wallet, now)
    code = redemptions.create_redemption(session, wallet, 0, now, euro_cents=650).code
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant)
    session.commit()
    signed_in(client, owner.email)

    page = client.get(f"/portal/redeem/{code}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "€6.50 discount: 0 points and €6.50 credit" in text
    done = client.post(f"/portal/redeem/{code}", data={"csrf_token": csrf(text)})
    assert done.status_code in (200, 303), done.get_data(as_text=True)
    session.expire_all()
    assert euros.balance(session, wallet) == 150
    assert ledger.town_euro_flows(session, scheme.id)["spent"] == 650
    assert ledger.verify(session).ok
