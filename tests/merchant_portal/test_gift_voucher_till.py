"""A printed gift voucher taken at the till, like a printed card: no phone, a question
first, its whole amount once, and the shop paid for it in the settlement."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import AccountKind, Asset, Role
from loyalty.money import accounts, ledger, vouchers
from tests.factories import make_scheme, make_shop, make_user
from tests.forms import csrf, signed_in
from tests.stripe_stub import checkout_session, event


def test_a_printed_voucher_is_taken_once_at_the_till(
    client: FlaskClient, session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    paid = vouchers.handle_event(session, event("checkout.session.completed", checkout_session(
        2500, metadata={"purpose": "gift_voucher", "scheme_id": str(scheme.id)})), utcnow())
    assert paid is not None and paid.voucher is not None
    code = vouchers.display_code(paid.voucher.code)
    cashier = make_user(session, scheme, Role.CASHIER, shop.merchant)
    session.commit()
    signed_in(client, cashier.email)

    page = client.get("/portal/redeem").get_data(as_text=True)
    assert "Printed gift voucher" in page
    token = csrf(page)
    asked = client.post("/portal/redeem/gift-voucher",
                        data={"csrf_token": token, "voucher_code": code.lower()})
    assert asked.status_code == 200
    assert "Take this gift voucher of €25.00?" in asked.get_data(as_text=True)
    position = accounts.merchant_account(session, scheme.id, shop.merchant.id,
                                         AccountKind.MERCHANT_POSITION)
    assert ledger.balance(session, position.id) == 0  # asking took nothing
    session.rollback()

    taken = client.post("/portal/redeem/gift-voucher",
                        data={"csrf_token": token, "voucher_code": code, "confirmed": "1"})
    assert taken.status_code == 200
    assert "Gift voucher taken: give €25.00 discount." in taken.get_data(as_text=True)
    again = client.post("/portal/redeem/gift-voucher",
                        data={"csrf_token": token, "voucher_code": code, "confirmed": "1"})
    assert again.status_code == 409
    assert "This gift voucher was already used." in again.get_data(as_text=True)
    unknown = client.post("/portal/redeem/gift-voucher",
                          data={"csrf_token": token, "voucher_code": "ABCD-EFGH-JKMN-PQRS"})
    assert unknown.status_code == 404

    session.expire_all()
    assert ledger.balance(session, position.id) == 2500  # paid in the settlement
    taken_euros = ledger.account(session, scheme.id, AccountKind.MERCHANT_REDEEMED, Asset.EUROS,
                                 ledger.merchant_owner(shop.merchant.id))
    assert ledger.balance(session, taken_euros.id) == 2500
    assert vouchers.outstanding_cents(session, scheme.id) == 0
    session.commit()
    verify_ledger()
