"""POST /wallet/top-ups through Stripe Checkout, and POST /wallet/vouchers: euros credited once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.errors import Conflict
from loyalty.infra.db import utcnow
from loyalty.models import AccountKind, Asset, EuroCredit, GiftVoucher, Role, Scheme
from loyalty.money import euros, funding, ledger, vouchers
from loyalty.money.settlement import monthly, periods
from loyalty.shoppers import wallets
from tests.factories import (
    bearer,
    make_scheme,
    make_shop,
    make_user,
    make_wallet_token,
    staff_token,
)
from tests.stripe_stub import StripeStub, checkout_session, event
from tests.voucher_data import SECRET, STRIPE_KEY, deliver, pay


@pytest.fixture
def client(app: Flask, stripe_stub: StripeStub) -> FlaskClient:
    app.config.update(STRIPE_SECRET_KEY=STRIPE_KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                      STRIPE_API_BASE=stripe_stub.url)
    return app.test_client()


def test_a_top_up_is_credited_once_however_often_stripe_delivers_it(
    client: FlaskClient, stripe_stub: StripeStub, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    token = make_wallet_token(session, scheme)
    answer = client.post("/api/v1/wallet/top-ups", json={"amount_cents": 2500},
                         headers=bearer(token))
    assert answer.status_code == 201, answer.json
    url = answer.json["checkout_url"]
    assert url.startswith(stripe_stub.url + "/c/pay/cs_test_")
    (sent,) = stripe_stub.received("POST", "/v1/checkout/sessions")
    assert sent.params["payment_method_types"] == ["card", "bancontact"]
    assert sent.params["metadata"]["purpose"] == "wallet_top_up"

    evt = pay(stripe_stub, url)
    answers = [deliver(client, evt) for _ in range(3)]
    assert [a.json["credited"] for a in answers] == [True, False, False]
    wallet = wallets.wallet_by_token(session, token)
    session.rollback()
    assert euros.balance(session, wallet) == 2500
    (credit,) = session.scalars(sa.select(EuroCredit).where(EuroCredit.wallet_id == wallet.id))
    assert (credit.source, credit.stripe_session_id) == ("top_up", evt["data"]["object"]["id"])
    assert client.get("/api/v1/wallet", headers=bearer(token)).json["euro_cents"] == 2500
    verify_ledger()


def test_only_the_schemes_amounts_can_be_bought(
    client: FlaskClient, session: Session
) -> None:
    token = make_wallet_token(session, make_scheme(session))
    answer = client.post("/api/v1/wallet/top-ups", json={"amount_cents": 1234},
                         headers=bearer(token))
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "invalid_amount"


def _gift_checkout(app: Flask, stub: StripeStub, scheme: Any, to: str) -> str:
    with app.test_request_context():
        return vouchers.create_checkout(
            funding.StripeSettings(STRIPE_KEY, stub.url), scheme, 1000,
            purpose=vouchers.GIFT, recipient_email=to, success_url="http://x/ok",
            cancel_url="http://x/no", locale="nl", product_name="Cadeaubon",
        ).url


def test_a_gift_is_mailed_and_redeemed_into_one_wallet_once(
    app: Flask, client: FlaskClient, stripe_stub: StripeStub, session: Session, mailbox: Any,
    verify_ledger: Any,
) -> None:
    scheme = make_scheme(session)
    url = _gift_checkout(app, stripe_stub, scheme, "oma@example.be")
    evt = pay(stripe_stub, url)
    assert [deliver(client, evt).json["credited"] for _ in range(2)] == [True, False]
    message = mailbox.wait_for("oma@example.be")
    text = message.get_content()
    match = re.search(r"code=([A-Z0-9]{16})", text)
    assert match, text
    code = match[1]
    assert vouchers.display_code(code) in text
    assert vouchers.outstanding_cents(session, scheme.id) == 1000

    first, second = make_wallet_token(session, scheme), make_wallet_token(session, scheme)
    typed = vouchers.display_code(code).lower()  # as typed from paper
    ok = client.post("/api/v1/wallet/vouchers", json={"code": typed}, headers=bearer(first))
    assert ok.status_code == 200, ok.json
    assert ok.json == {"euro_cents_credited": 1000, "euro_cents": 1000}
    again = client.post("/api/v1/wallet/vouchers", json={"code": code}, headers=bearer(second))
    assert again.status_code == 409
    assert again.json["error"]["code"] == "already_redeemed"
    other_town = make_wallet_token(session, make_scheme(session))
    elsewhere = client.post("/api/v1/wallet/vouchers", json={"code": code},
                            headers=bearer(other_town))
    assert elsewhere.status_code == 404
    session.rollback()
    assert vouchers.outstanding_cents(session, scheme.id) == 0
    assert euros.balance(session, wallets.wallet_by_token(session, second)) == 0
    verify_ledger()


def test_a_printed_code_is_spent_at_a_till_once(
    session: Session, verify_ledger: Any
) -> None:
    shop = make_shop(session)
    scheme = shop.scheme
    evt = event("checkout.session.completed", checkout_session(
        2500, metadata={"purpose": "gift_voucher", "scheme_id": str(scheme.id)}))
    paid = vouchers.handle_event(session, evt, utcnow())
    assert paid is not None and paid.voucher is not None
    code = paid.voucher.code
    vouchers.spend_at_till(session, code, shop.merchant, utcnow())
    with pytest.raises(Conflict):
        vouchers.spend_at_till(session, code, shop.merchant, utcnow())
    session.commit()
    redeemed = ledger.account(session, scheme.id, AccountKind.MERCHANT_REDEEMED, Asset.EUROS,
                              ledger.merchant_owner(shop.merchant.id))
    assert ledger.balance(session, redeemed.id) == 2500
    assert vouchers.outstanding_cents(session, scheme.id) == 0
    assert session.scalar(sa.select(GiftVoucher.redeemed_merchant_id).where(
        GiftVoucher.code == code)) == shop.merchant.id
    verify_ledger()


def test_bought_euros_are_spent_at_another_shop_and_settled_through_the_api(
    client: FlaskClient, stripe_stub: StripeStub, session: Session, verify_ledger: Any
) -> None:
    """The whole flow of town money through the API: a top-up paid by Stripe, the
    euros on a spend code, confirmed by another shop's till, and that shop paid for
    them in the month's settlement."""
    scheme = make_scheme(session)
    taker = make_shop(session, scheme)
    token = make_wallet_token(session, scheme)
    url = client.post("/api/v1/wallet/top-ups", json={"amount_cents": 2500},
                      headers=bearer(token)).json["checkout_url"]
    assert deliver(client, pay(stripe_stub, url)).json["credited"] is True

    code = client.post("/api/v1/wallet/redemptions", json={"euro_cents": 1000},
                       headers=bearer(token))
    assert code.status_code == 201, code.json
    confirmed = client.post(f"/api/v1/redemptions/{code.json['code']}/confirm",
                            headers=taker.headers)
    assert confirmed.status_code == 200, confirmed.json
    assert (confirmed.json["euro_cents"], confirmed.json["discount_cents"]) == (1000, 1000)
    assert client.get("/api/v1/wallet", headers=bearer(token)).json["euro_cents"] == 1500

    # The month is settled once it is over (as of its last moment plus a minute).
    session.rollback()
    mine = session.get_one(Scheme, scheme.id)
    period = monthly.month_of(mine, utcnow())
    _start, end = periods.period_bounds(mine, period)
    monthly.settle(session, mine, period, end + timedelta(minutes=1))
    session.commit()
    admin = bearer(staff_token(client, make_user(session, mine, Role.MUNICIPALITY_ADMIN)))
    settled = client.get(f"/api/v1/settlements/{period}", headers=admin)
    assert settled.status_code == 200, settled.json
    row = next(r for r in settled.json["shops"] if r["merchant_id"] == taker.merchant.id)
    assert (row["euros_redeemed_cents"], row["redeemed_cents"], row["net_cents"]) == (
        1000, 1000, 1000)
    verify_ledger()
