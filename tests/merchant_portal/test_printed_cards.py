"""Printed cards: points from any till, spending only with the PIN, lock-out in the database."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import PrintedCard, Role
from loyalty.shoppers import printed_cards
from tests.factories import make_scheme, make_shop, make_user
from tests.forms import csrf as _csrf
from tests.forms import signed_in


def _cards(client: FlaskClient, count: int) -> list[tuple[str, str]]:
    page = client.get("/portal/printed-cards")
    assert page.status_code == 200
    sheet = client.post(
        "/portal/printed-cards",
        data={"csrf_token": _csrf(page.get_data(as_text=True)), "count": str(count)},
    )
    assert sheet.status_code == 200
    html = sheet.get_data(as_text=True)
    numbers = re.findall(r'<p class="card-number">([\d ]+)</p>', html)
    pins = re.findall(r'<p class="pin">(\d{4})</p>', html)
    assert len(numbers) == len(pins) == count
    return list(zip(numbers, pins, strict=True))


def test_printed_card_collects_and_spends_with_its_pin(
    client: FlaskClient, session: Session, verify_ledger
) -> None:
    scheme = make_scheme(session)
    bakery = make_shop(session, scheme)
    butcher = make_shop(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, bakery.merchant)
    signed_in(client, owner.email)
    [(number, pin)] = _cards(client, 1)
    assert printed_cards.is_valid_number(number)

    # A sale at the bakery's till goes to the card instead of a phone.
    till = client.get("/portal/till")
    sale = client.post(
        "/portal/till", data={"csrf_token": _csrf(till.get_data(as_text=True)), "amount": "42,50"}
    )
    assert sale.status_code == 303
    sale_page = client.get(sale.headers["Location"])
    to_card = client.post(
        sale.headers["Location"] + "/card",
        data={"csrf_token": _csrf(sale_page.get_data(as_text=True)), "number": number},
    )
    assert to_card.status_code == 303
    card = session.scalars(
        sa.select(PrintedCard).where(PrintedCard.number == number.replace(" ", ""))
    ).one()
    assert printed_cards.balance(session, card) == 42
    session.rollback()  # end the read: on SQLite it would hold up the next request
    assert "claimed" in client.get(sale.headers["Location"] + "/status").get_data(as_text=True)

    # A mistyped number is caught by its check digit.
    bad = number[:-1] + str((int(number[-1]) + 1) % 10)
    sale2 = client.post(
        "/portal/till", data={"csrf_token": _csrf(till.get_data(as_text=True)), "amount": "10"}
    )
    wrong = client.post(
        sale2.headers["Location"] + "/card",
        data={"csrf_token": _csrf(till.get_data(as_text=True)), "number": bad},
    )
    assert wrong.status_code == 404
    assert "No card has this number" in wrong.get_data(as_text=True)

    # Spending at another shop's till, with the PIN.
    client.post(
        "/logout", data={"csrf_token": _csrf(client.get("/portal/till").get_data(as_text=True))}
    )
    cashier = make_user(session, scheme, Role.CASHIER, butcher.merchant)
    signed_in(client, cashier.email)
    redeem = client.get("/portal/redeem")
    spent = client.post(
        "/portal/redeem/card",
        data={
            "csrf_token": _csrf(redeem.get_data(as_text=True)),
            "number": number,
            "pin": pin,
            "points": "40",
        },
    )
    assert spent.status_code == 303
    done = client.get(spent.headers["Location"])
    assert "€2.00 discount" in done.get_data(as_text=True)
    session.expire_all()
    assert printed_cards.balance(session, card) == 2
    session.rollback()
    verify_ledger()


def test_five_wrong_pins_lock_the_card(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    [new] = printed_cards.issue_cards(session, scheme, 1)
    session.commit()
    number, pin = new.card.number, new.pin
    wrong_pin = f"{(int(pin) + 1) % 10000:04d}"
    cashier = make_user(session, scheme, Role.CASHIER, shop.merchant)
    signed_in(client, cashier.email)
    token = _csrf(client.get("/portal/redeem").get_data(as_text=True))

    def attempt(p: str) -> tuple[int, str]:
        response = client.post(
            "/portal/redeem/card",
            data={"csrf_token": token, "number": number, "pin": p, "points": "1"},
        )
        return response.status_code, response.get_data(as_text=True)

    for left in ("4 attempts", "3 attempts", "2 attempts", "1 attempt "):
        status, html = attempt(wrong_pin)
        assert status == 401 and f"{left.strip()} left" in html
    status, html = attempt(wrong_pin)
    assert status == 401 and "now locked" in html
    # Locked: even the right PIN is refused, and no PIN is checked any more.
    status, html = attempt(pin)
    assert status == 403 and "locked" in html
    session.expire_all()
    card = session.get_one(PrintedCard, new.card.id)
    assert card.failed_pins == printed_cards.MAX_FAILED_PINS
    session.rollback()

    printed_cards.unlock(session, card)
    session.commit()
    # Unlocked, the right PIN works; the card has no points, so it is a 409.
    status, html = attempt(pin)
    assert status == 409 and "does not have that many points" in html
    session.expire_all()
    assert session.get_one(PrintedCard, new.card.id).failed_pins == 0
