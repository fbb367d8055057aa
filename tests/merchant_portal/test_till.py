"""The till's amount: Belgian and English ways of typing it, limits said in euros,
and a confirmation above the scheme's threshold before a large sale gives points."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Claim, Role
from tests.factories import make_scheme, make_shop, make_user
from tests.forms import csrf as _csrf
from tests.forms import signed_in


def _post_sale(client: FlaskClient, **data: str):  # type: ignore[no-untyped-def]
    till = client.get("/portal/till")
    return client.post("/portal/till",
                       data={"csrf_token": _csrf(till.get_data(as_text=True)), **data})


def _amount_of(session: Session, location: str) -> int:
    claim_id = int(location.rstrip("/").split("/")[-1])
    amount: int = session.scalar(sa.select(Claim.amount_cents).where(Claim.id == claim_id))
    session.rollback()
    return amount


@pytest.fixture
def till(client: FlaskClient, session: Session) -> FlaskClient:
    scheme = make_scheme(session, confirm_above_cents=100_000)  # EUR 1.000
    shop = make_shop(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant)
    signed_in(client, owner.email)
    return client


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("23,50", 2350), ("23.50", 2350), ("7,5", 750), ("€ 12", 1200), ("999,99", 99_999)],
)
def test_amounts_as_people_type_them(
    till: FlaskClient, session: Session, typed: str, cents: int
) -> None:
    sale = _post_sale(till, amount=typed)
    assert sale.status_code == 303, sale.get_data(as_text=True)
    assert _amount_of(session, sale.headers["Location"]) == cents


def test_a_large_amount_is_confirmed_before_it_gives_points(
    till: FlaskClient, session: Session
) -> None:
    asked = _post_sale(till, amount="1.234,50")
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "€1,234.50: is this amount right?" in page
    assert "Sales above €1,000.00 are checked once more" in page
    count = session.scalar(sa.select(sa.func.count()).select_from(Claim))
    session.rollback()
    # A confirmation of another amount asks again; the right one gives points.
    again = _post_sale(till, amount="1.500,00", confirmed="123450")
    assert again.status_code == 200 and "€1,500.00: is this amount right?" in again.get_data(
        as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Claim)) == count
    session.rollback()
    done = _post_sale(till, amount="1234.50", confirmed="123450")
    assert done.status_code == 303
    assert _amount_of(session, done.headers["Location"]) == 123_450


@pytest.mark.parametrize(
    ("lang", "typed", "message"),
    [
        ("en", "abc", "Type an amount in euros, such as 23,50."),
        ("en", "1.234.5", "Type an amount in euros, such as 23,50."),
        ("en", "6000", "A sale is at most €5,000.00. Split a larger purchase."),
        ("nl", "12,3,4", "Tik een bedrag in euro, zoals 23,50."),
        ("nl", "5.000,01", "Een verkoop is hoogstens €\u00a05.000,00. Splits een grotere aankoop."),
        ("fr", "6 000", "Une vente est de 5\u202f000,00\u00a0€ au maximum."),
    ],
)
def test_a_wrong_amount_gets_a_message_in_euros(
    till: FlaskClient, session: Session, lang: str, typed: str, message: str
) -> None:
    till.set_cookie("lang", lang)
    answer = _post_sale(till, amount=typed)
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert "Nummer moet" not in answer.get_data(as_text=True)


def test_the_redeem_forms_speak_plainly(till: FlaskClient) -> None:
    page = till.get("/portal/redeem").get_data(as_text=True)
    empty = till.post("/portal/redeem", data={"csrf_token": _csrf(page), "code": ""})
    assert "Type or scan the shopper's spend code." in empty.get_data(as_text=True)
    short = till.post("/portal/redeem", data={"csrf_token": _csrf(page), "code": "123"})
    assert "A spend code has 8 digits." in short.get_data(as_text=True)
