"""A shop hears of the municipality's decision by e-mail, in Dutch, French and English;
a mail server that refuses does not undo the decision."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import Merchant, MerchantStatus
from tests.conftest import Mailbox, free_port
from tests.factories import make_merchant
from tests.municipality_dashboard.conftest import Municipality, html, post


def test_approved_and_refused_shops_are_told(
    session: Session, town: Municipality, mailbox: Mailbox
) -> None:
    bakery = make_merchant(session, town.scheme, status=MerchantStatus.PENDING,
                           name="Bakkerij Nieuw", email="info@bakkerij-nieuw.example")
    chips = make_merchant(session, town.scheme, status=MerchantStatus.PENDING,
                          name="Frituur Nieuw", email="info@frituur-nieuw.example")
    bakery_id, chips_id = bakery.id, chips.id
    session.commit()
    client = town.admin_client

    approved = post(client, f"/dashboard/shops/{bakery_id}/approve")
    assert approved.status_code == 303
    assert "shop is told by e-mail" in html(client.get(approved.headers["Location"]))
    message = mailbox.wait_for("info@bakkerij-nieuw.example")
    # (A long header is folded in transit: compare its words.)
    assert " ".join(message["Subject"].split()) == (
        "Uw zaak is goedgekeurd bij Lokaal Sparen / Votre commerce est approuvé sur Lokaal "
        "Sparen / Your shop is approved on Lokaal Sparen"
    )
    body = message.get_content()
    assert "heeft “Bakkerij Nieuw” goedgekeurd" in body
    assert "a approuvé « Bakkerij Nieuw »" in body and "approved “Bakkerij Nieuw”" in body
    assert "/login" in body

    refused = post(client, f"/dashboard/shops/{chips_id}/refuse", confirmed="1")
    assert refused.status_code == 303
    body = mailbox.wait_for("info@frituur-nieuw.example").get_content()
    assert "heeft “Frituur Nieuw” niet goedgekeurd" in body and "did not approve" in body


def test_a_refusing_mail_server_does_not_undo_the_decision(
    app: Flask, session: Session, town: Municipality
) -> None:
    shop = make_merchant(session, town.scheme, status=MerchantStatus.PENDING)
    shop_id = shop.id
    session.commit()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listens
    try:
        answer = post(town.admin_client, f"/dashboard/shops/{shop_id}/approve")
    finally:
        app.config.update(MAIL_SERVER=None)
    assert answer.status_code == 303
    page = html(town.admin_client.get(answer.headers["Location"]))
    assert "could not be sent: tell the shop yourself" in page
    session.expire_all()
    assert session.get_one(Merchant, shop_id).status == MerchantStatus.APPROVED
    session.commit()
