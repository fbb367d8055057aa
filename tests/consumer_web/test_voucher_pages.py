"""Buying a gift voucher on the shopper's pages: Stripe Checkout (the stub), the
printable voucher whose QR opens the redeem page, and the code redeemed once."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.money import vouchers
from tests.factories import make_scheme
from tests.forms import csrf
from tests.qrdecode import decode_svg
from tests.stripe_stub import StripeStub
from tests.voucher_data import SECRET, STRIPE_KEY, deliver, pay


@pytest.fixture
def shopper(app: Flask, stripe_stub: StripeStub) -> FlaskClient:
    app.config.update(STRIPE_SECRET_KEY=STRIPE_KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                      STRIPE_API_BASE=stripe_stub.url)
    client = app.test_client()
    client.set_cookie("lang", "nl")
    return client


def _text(html: str) -> str:
    return html.replace("\xa0", " ").replace("\u202f", " ")


def test_a_printed_gift_is_paid_printed_scanned_and_redeemed_once(
    shopper: FlaskClient, app: Flask, stripe_stub: StripeStub, session: Session,
    verify_ledger: Any,
) -> None:
    scheme = make_scheme(session)
    page = shopper.get(f"/vouchers/buy?town={scheme.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cadeaubon kopen" in html
    assert stripe_stub.url in page.headers["Content-Security-Policy"]  # form-action
    bought = shopper.post(f"/vouchers/buy?town={scheme.id}", data={
        "csrf_token": csrf(html), "amount": "2500", "recipient": "print", "email": "",
    })
    assert bought.status_code == 303, bought.get_data(as_text=True)
    checkout_url = bought.headers["Location"]
    assert checkout_url.startswith(stripe_stub.url + "/c/pay/")
    (sent,) = stripe_stub.received("POST", "/v1/checkout/sessions")
    assert sent.params["metadata"] == {"purpose": "gift_voucher", "scheme_id": str(scheme.id)}
    assert sent.params["line_items"][0]["price_data"]["unit_amount"] == "2500"

    evt = pay(stripe_stub, checkout_url)
    back = sent.params["success_url"].replace("{CHECKOUT_SESSION_ID}", evt["data"]["object"]["id"])
    waiting = shopper.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert waiting.status_code == 202  # the webhook has not come yet
    assert deliver(shopper, evt).json["credited"] is True
    paid = _text(shopper.get(urlsplit(back).path + "?" + urlsplit(back).query)
                 .get_data(as_text=True))
    card_path = re.search(r'href="(/vouchers/card/[A-Z0-9]+)"', paid)
    assert card_path, paid

    card = shopper.get(card_path[1]).get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", card, re.S)
    assert svg
    (link,) = decode_svg(svg[0])
    code = link.rsplit("code=", 1)[1]
    assert vouchers.display_code(code) in card and "€ 25,00" in _text(card)

    # The phone that scans it has no wallet yet: redeeming makes one.
    phone = app.test_client()
    phone.set_cookie("lang", "nl")
    form = phone.get(urlsplit(link).path + "?" + urlsplit(link).query).get_data(as_text=True)
    assert f'value="{code}"' in form
    done = phone.post("/vouchers/redeem", data={"csrf_token": csrf(form), "code": code})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "+€ 25,00" in _text(done.get_data(as_text=True))
    assert "€ 25,00 van een cadeaubon of opwaardering" in _text(
        phone.get("/wallet").get_data(as_text=True))

    other = app.test_client()
    form = other.get("/vouchers/redeem").get_data(as_text=True)
    again = other.post("/vouchers/redeem", data={"csrf_token": csrf(form),
                                                 "code": vouchers.display_code(code)})
    assert again.status_code == 409
    verify_ledger()
