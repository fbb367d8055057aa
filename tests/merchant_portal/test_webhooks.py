"""The owner's webhooks page: add one (the secret shown once), read its delivery log,
deactivate it behind a confirmation; a cashier never sees it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lokaal_sparen import tasks
from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import Role, WebhookEndpoint
from loyalty.shoppers import wallets
from tests.factories import make_shop, make_user
from tests.merchant_portal.helpers import form_error, html_of, new_client, post_form, sign_in_as
from tests.webhook_receiver import receiver, verify

PAGE = "/portal/webhooks"


def test_an_owner_adds_a_webhook_reads_its_log_and_deactivates_it(
    app: Flask, session: Session
) -> None:
    shop = make_shop(session)
    owner = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    client = new_client(app)
    sign_in_as(client, owner.email)
    assert "Your shop has no webhook yet." in html_of(client.get(PAGE))

    refused = post_form(client, PAGE, PAGE, address="http://kassa.example.be/events",
                        claim_collected="y")
    assert refused.status_code == 422
    assert form_error(html_of(refused), "address") == "The address must start with https://."
    none_chosen = post_form(client, PAGE, PAGE, address="https://kassa.example.be/events")
    assert none_chosen.status_code == 422
    assert form_error(html_of(none_chosen), "claim_collected") == "Choose at least one event."

    with receiver(200) as hook:
        added = post_form(client, PAGE, PAGE, address=hook.url, claim_collected="y",
                          sale_reversed="y")
        assert added.status_code == 201
        endpoint = session.scalars(sa.select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == shop.merchant.id)).one()
        session.commit()
        assert endpoint.event_list == ["claim.collected", "sale.reversed"]
        assert endpoint.secret in html_of(added)
        assert endpoint.secret not in html_of(client.get(PAGE))  # shown once

        wallet = wallets.create_wallet(session, shop.scheme).wallet
        sale = claims.create_claim(session, shop.merchant, 1250, utcnow())
        claims.collect(session, sale.claim, wallet, utcnow())
        session.commit()
        with app.app_context():
            tasks.deliver_webhooks(lambda line: None, utcnow())
        assert verify(endpoint.secret, hook.received[0].headers["Lokaal-Signature"],
                      hook.received[0].body)

    log = html_of(client.get(f"{PAGE}/{endpoint.id}"))
    assert "claim.collected" in log and "delivered" in log

    # Dutch: the same log in the shop's language.
    client.set_cookie("lang", "nl")
    assert "afgeleverd" in html_of(client.get(f"{PAGE}/{endpoint.id}"))
    client.set_cookie("lang", "en")

    url = f"{PAGE}/{endpoint.id}/deactivate"
    asked = post_form(client, url, PAGE)
    assert asked.status_code == 200
    assert "Yes, deactivate" in html_of(asked)
    assert session.get_one(WebhookEndpoint, endpoint.id).active
    session.commit()
    done = post_form(client, url, PAGE, confirmed="1")
    assert done.status_code == 303
    session.expire_all()
    assert not session.get_one(WebhookEndpoint, endpoint.id).active
    session.commit()
    assert "deactivated" in html_of(client.get(PAGE))


def test_a_cashier_cannot_open_the_webhooks(app: Flask, session: Session) -> None:
    shop = make_shop(session)
    cashier = make_user(session, shop.scheme, Role.CASHIER, shop.merchant)
    client: FlaskClient = new_client(app)
    sign_in_as(client, cashier.email)
    assert client.get(PAGE).status_code == 403
