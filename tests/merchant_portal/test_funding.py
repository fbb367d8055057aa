"""The owner's prepaid balance page (Stripe Checkout or bank transfer) and the
admin's recording of bank transfers, through Flask's test client with the stripe
library talking to the local Stripe server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.models import Merchant, Role, StaffUser
from loyalty.money import funding
from loyalty.money.settlement import bank_accounts
from tests.factories import make_shop, make_user
from tests.forms import csrf, signed_in
from tests.funding_data import SECRET, prepaid, prepayment_rows
from tests.stripe_stub import StripeError, StripeStub, complete_checkout_session, event
from tests.stripe_stub import signed_delivery as _signed

STRIPE_KEY = "sk_test_portal_key"


def _html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def _signed_in(app: Flask, user: StaffUser) -> FlaskClient:
    client = app.test_client()
    signed_in(client, user.email)
    return client


@dataclass
class Owner:
    client: FlaskClient
    merchant: Merchant


@pytest.fixture
def owner(app: Flask, session: Session) -> Owner:
    shop = make_shop(session)
    user = make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    return Owner(_signed_in(app, user), shop.merchant)


@pytest.fixture
def with_stripe(app: Flask, stripe_stub: StripeStub) -> StripeStub:
    app.config.update(
        STRIPE_SECRET_KEY=STRIPE_KEY, STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_API_BASE=stripe_stub.url
    )
    return stripe_stub


def _top_up(client: FlaskClient, amount: str) -> TestResponse:
    token = csrf(_html(client.get("/portal/funding")))
    return client.post("/portal/funding/top-up", data={"csrf_token": token, "amount": amount})


# -- without Stripe: bank transfer only ----------------------------------------------------


def test_without_stripe_keys_the_page_offers_bank_transfer_only(
    app: Flask, owner: Owner, session: Session
) -> None:
    bank_accounts.set_scheme_bank_account(
        session, owner.merchant.scheme, "BE68 5390 0754 7034", "GKCCBEBB"
    )
    session.commit()
    page = owner.client.get("/portal/funding")
    assert page.status_code == 200
    html = _html(page)
    assert "Top up by bank transfer" in html
    assert "BE68 5390 0754 7034" in html and "GKCCBEBB" in html
    assert funding.structured_communication(owner.merchant.id) in html
    assert "/portal/funding/top-up" not in html
    assert "Stripe" not in html
    assert "checkout.stripe.com" not in page.headers["Content-Security-Policy"]
    # and the top-up itself is not there either
    token = csrf(html)
    refused = owner.client.post(
        "/portal/funding/top-up", data={"csrf_token": token, "amount": "20"}
    )
    assert refused.status_code == 404
    assert prepaid(session, owner.merchant) == 0


def test_without_an_iban_the_page_still_gives_the_communication(owner: Owner) -> None:
    html = _html(owner.client.get("/portal/funding"))
    assert "Ask the municipality for its account number." in html
    assert funding.structured_communication(owner.merchant.id) in html


# -- with Stripe -----------------------------------------------------------------------


def test_top_up_creates_a_checkout_session_with_the_right_parameters(
    with_stripe: StripeStub, owner: Owner
) -> None:
    page = owner.client.get("/portal/funding")
    assert "Pay with Stripe" in _html(page)
    # The browser may follow the form's redirect to Stripe's page.
    assert f"form-action 'self' {with_stripe.url}" in page.headers["Content-Security-Policy"]

    answer = _top_up(owner.client, "25,50")
    assert answer.status_code == 303
    (sent,) = with_stripe.received("POST", "/v1/checkout/sessions")
    (created,) = with_stripe.objects.values()
    assert answer.headers["Location"] == created["url"]
    assert sent.api_key == STRIPE_KEY
    p = sent.params
    assert p["mode"] == "payment"
    assert p["payment_method_types"] == ["card", "bancontact"]
    (item,) = p["line_items"]
    assert item["quantity"] == "1"
    assert item["price_data"]["currency"] == "eur"
    assert item["price_data"]["unit_amount"] == "2550"
    merchant = owner.merchant
    metadata = {"merchant_id": str(merchant.id), "scheme_id": str(merchant.scheme_id)}
    assert p["metadata"] == metadata
    assert p["payment_intent_data"]["metadata"] == metadata
    assert p["client_reference_id"] == f"scheme-{merchant.scheme_id}-merchant-{merchant.id}"
    assert p["success_url"] == (
        "https://sparen.example.be/portal/funding/paid?session_id={CHECKOUT_SESSION_ID}"
    )
    assert p["cancel_url"] == "https://sparen.example.be/portal/funding/cancelled"
    assert p["locale"] == "en"


def test_paying_then_the_webhook_credits_and_the_page_shows_it(
    app: Flask, with_stripe: StripeStub, owner: Owner, session: Session, verify_ledger: Any
) -> None:
    answer = _top_up(owner.client, "40")
    session_id = re.search(r"/c/pay/(cs_test_\w+)", answer.headers["Location"])[1]  # type: ignore[index]
    # Back from Stripe before its webhook came: on its way, nothing credited yet.
    back = owner.client.get(f"/portal/funding/paid?session_id={session_id}")
    assert back.status_code == 200
    assert "Stripe is confirming your payment" in _html(back)
    assert prepaid(session, owner.merchant) == 0

    # Stripe's page takes the money and Stripe sends its signed event.
    paid = complete_checkout_session(with_stripe, session_id)
    body, headers = _signed(event("checkout.session.completed", paid), SECRET)
    assert app.test_client().post("/api/v1/stripe/webhook", data=body, headers=headers).json[
        "credited"
    ]
    assert prepaid(session, owner.merchant) == 40_00

    back = owner.client.get(f"/portal/funding/paid?session_id={session_id}")
    assert "€40.00 is added to your prepaid balance." in _html(back)
    html = _html(owner.client.get("/portal/funding"))
    balance = re.search(r'id="prepaid-balance">([^<]+)<', html)
    assert balance and balance[1] == "€40.00"
    assert session_id in html and "Card or Bancontact" in html
    verify_ledger()


@pytest.mark.parametrize("amount", ["5", "10000.01", "abc", "", "-20"])
def test_amounts_out_of_bounds_are_a_form_error_and_reach_no_stripe(
    with_stripe: StripeStub, owner: Owner, amount: str
) -> None:
    answer = _top_up(owner.client, amount)
    assert answer.status_code == 422
    assert 'aria-invalid="true"' in _html(answer)
    assert with_stripe.received("POST", "/v1/checkout/sessions") == []


def test_stripe_refusing_is_a_friendly_error_and_charges_nothing(
    with_stripe: StripeStub, owner: Owner, session: Session
) -> None:
    with_stripe.fail_next(
        "POST", "/v1/checkout/sessions",
        StripeError(400, "Bancontact is not activated on this account.",
                    param="payment_method_types"),
    )
    answer = _top_up(owner.client, "20")
    assert answer.status_code == 503
    assert "Stripe could not be reached. Nothing was charged" in _html(answer)
    assert prepayment_rows(session, owner.merchant) == []


def test_cancel_page(with_stripe: StripeStub, owner: Owner) -> None:
    page = owner.client.get("/portal/funding/cancelled")
    assert page.status_code == 200
    assert "Nothing was charged." in _html(page)


def test_cashiers_get_403(app: Flask, session: Session, with_stripe: StripeStub) -> None:
    shop = make_shop(session)
    cashier = make_user(session, shop.scheme, Role.CASHIER, shop.merchant)
    client = _signed_in(app, cashier)
    for url in ["/portal/funding", "/portal/funding/paid", "/portal/funding/cancelled"]:
        assert client.get(url).status_code == 403, url
    token = csrf(_html(client.get("/portal/till")))
    refused = client.post("/portal/funding/top-up", data={"csrf_token": token, "amount": "20"})
    assert refused.status_code == 403
    assert with_stripe.received("POST", "/v1/checkout/sessions") == []
    assert "/portal/funding" not in _html(client.get("/portal/till"))


# -- the admin records bank transfers ---------------------------------------------------


def _record(client: FlaskClient, **data: str) -> TestResponse:
    token = csrf(_html(client.get("/dashboard/funding")))
    return client.post("/dashboard/funding", data={"csrf_token": token, **data})


def test_a_bank_transfer_recorded_twice_is_credited_once(
    app: Flask, session: Session, verify_ledger: Any
) -> None:
    shop = make_shop(session)
    admin = _signed_in(app, make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN))
    communication = funding.structured_communication(shop.merchant.id)
    first = _record(admin, communication=communication, amount="150,00", reference="2026-1127-001")
    assert first.status_code == 303
    assert first.headers["Location"].endswith("/dashboard/funding?done=recorded")
    again = _record(admin, communication=communication, amount="150", reference="2026-1127-001")
    assert again.headers["Location"].endswith("/dashboard/funding?done=again")
    assert "This transfer was already recorded. Nothing was added." in _html(
        admin.get("/dashboard/funding?done=again")
    )
    assert prepaid(session, shop.merchant) == 150_00
    (row,) = prepayment_rows(session, shop.merchant)
    assert (row.method, row.reference) == ("bank", "2026-1127-001")
    # The same reference with another amount is a mistake, not a second transfer.
    wrong = _record(admin, communication=communication, amount="15", reference="2026-1127-001")
    assert wrong.status_code == 409
    assert "already recorded for another shop or amount" in _html(wrong)
    assert prepaid(session, shop.merchant) == 150_00
    # The owner sees it in the history.
    owner = _signed_in(app, make_user(session, shop.scheme, Role.MERCHANT_OWNER, shop.merchant))
    html = _html(owner.get("/portal/funding"))
    assert "2026-1127-001" in html and "Bank transfer" in html and "€150.00" in html
    verify_ledger()


@pytest.mark.parametrize(
    ("communication", "message"),
    [
        # base 1 wants check digits 01
        ("+++000/0000/00102+++", "not a valid structured communication"),
        ("hello", "not a valid structured communication"),
    ],
)
def test_bad_communications_are_form_errors(
    app: Flask, session: Session, communication: str, message: str
) -> None:
    shop = make_shop(session)
    admin = _signed_in(app, make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN))
    answer = _record(admin, communication=communication, amount="10", reference="R-1")
    assert answer.status_code == 422
    assert message in _html(answer)


def test_another_municipalitys_shop_cannot_be_credited(app: Flask, session: Session) -> None:
    shop, other = make_shop(session), make_shop(session)
    admin = _signed_in(app, make_user(session, shop.scheme, Role.MUNICIPALITY_ADMIN))
    answer = _record(
        admin,
        communication=funding.structured_communication(other.merchant.id),
        amount="10",
        reference="R-2",
    )
    assert answer.status_code == 422
    assert "No shop of this municipality has this communication." in _html(answer)
    assert prepaid(session, other.merchant) == 0


def test_only_admins_record_transfers(app: Flask, session: Session) -> None:
    shop = make_shop(session)
    for role, merchant in [
        (Role.MUNICIPALITY_ANALYST, None),
        (Role.MERCHANT_OWNER, shop.merchant),
    ]:
        client = _signed_in(app, make_user(session, shop.scheme, role, merchant))
        assert client.get("/dashboard/funding").status_code == 403, role
