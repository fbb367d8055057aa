"""Belgian structured communications and the prepayment posting."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InvalidInput
from loyalty.models import AccountKind, FundingMethod
from loyalty.money import accounts, funding, ledger
from tests.factories import make_shop


def test_a_published_example_reads_back() -> None:
    # The example Belgian banks give: 0108068171 mod 97 = 83.
    assert funding.merchant_of_communication("+++010/8068/17183+++") == 108068171
    assert funding.merchant_of_communication("***010/8068/17183***") == 108068171
    assert funding.merchant_of_communication("010806817183") == 108068171
    assert funding.structured_communication(108068171) == "+++010/8068/17183+++"


@pytest.mark.parametrize("merchant_id", [1, 96, 97, 194, 123456, 9_999_999_999])
def test_communications_round_trip(merchant_id: int) -> None:
    text = funding.structured_communication(merchant_id)
    assert len(text) == 20
    assert funding.merchant_of_communication(text) == merchant_id


def test_a_multiple_of_97_gets_check_digits_97() -> None:
    assert funding.structured_communication(97) == "+++000/0000/09797+++"


@pytest.mark.parametrize(
    "text", ["+++010/8068/17184+++", "+++000/0000/00097+++", "12345", "+++abc/defg/hijkl+++", ""]
)
def test_wrong_communications_are_refused(text: str) -> None:
    assert funding.merchant_of_communication(text) is None


def test_a_prepayment_is_cash_out_prepaid_in(session: Session) -> None:
    shop = make_shop(session)
    payment, created = funding.record_prepayment(
        session, shop.merchant, 12_00, FundingMethod.BANK, " REF-1 "
    )
    assert created and payment.reference == "REF-1"
    bank = accounts.scheme_account(session, shop.scheme.id, AccountKind.CASH, accounts.BANK)
    assert ledger.balance(session, bank.id) == -12_00
    assert funding.prepaid_balance(session, shop.merchant) == 12_00
    again, created = funding.record_prepayment(
        session, shop.merchant, 12_00, FundingMethod.BANK, "REF-1"
    )
    assert (again.id, created) == (payment.id, False)
    # The same reference by Stripe is another payment channel: not a repeat.
    _, created = funding.record_prepayment(
        session, shop.merchant, 12_00, FundingMethod.STRIPE, "REF-1"
    )
    assert created
    with pytest.raises(Conflict):
        funding.record_prepayment(session, shop.merchant, 13_00, FundingMethod.BANK, "REF-1")
    for amount, ref in [(0, "X"), (-5, "X"), (5, ""), (5, "x" * 201)]:
        with pytest.raises(InvalidInput):
            funding.record_prepayment(session, shop.merchant, amount, FundingMethod.BANK, ref)
    assert funding.prepaid_balance(session, shop.merchant) == 24_00
    session.rollback()
