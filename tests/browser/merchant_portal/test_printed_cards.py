"""A printed card at the till: points onto it, and a PIN lock-out after five wrong PINs."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.models import PrintedCard
from loyalty.shoppers import printed_cards
from tests.browser.merchant_portal.conftest import NewTablet, PortalShop
from tests.browser.tablet import squash

NOW_LOCKED = "Wrong PIN. The card is now locked: the municipality's desk can unlock it."
LOCKED = "This card is locked after too many wrong PINs. The municipality's desk can unlock it."


def test_printed_card_locks_after_five_wrong_pins(
    new_tablet: NewTablet, portal_shop: PortalShop, session: Session
) -> None:
    # The owner prints a sheet of one card and gives it a sale's points.
    owner = new_tablet("en")
    page = owner.page
    owner.sign_in(portal_shop.owner_email)
    page.get_by_role("link", name="Printed cards").click()
    expect(page.locator("h1")).to_have_text("Printed cards")
    owner.check("printed-cards")
    page.get_by_label("Number of cards").fill("1")
    owner.submit(page.get_by_role("button", name="Make a sheet of cards"))
    expect(page.locator(".printed-card")).to_have_count(1)
    number = squash(page.locator(".card-number").inner_text())
    pin = page.locator(".pin").inner_text().strip()
    assert re.fullmatch(r"\d{4} \d{4} \d{4}", number), number
    assert re.fullmatch(r"\d{4}", pin), pin
    owner.check("printed-cards-sheet")

    owner.goto("/portal/till")
    page.get_by_label("Amount of the sale (€)").fill("30,00")
    owner.submit(page.get_by_role("button", name="Give points"))
    page.get_by_label("Card number").fill(number)
    owner.submit(page.get_by_role("button", name="Give to the card"))
    expect(page.locator(".sale-screen")).to_have_attribute("data-state", "claimed")

    # At the cashier's till, someone who does not know the PIN tries five times.
    cashier = new_tablet("en")
    page = cashier.page
    cashier.sign_in(portal_shop.cashier_email)
    cashier.goto("/portal/redeem")
    card = page.locator("form", has=page.get_by_label("PIN"))
    card.get_by_label("Printed card number").fill(number)
    card.get_by_label("Points to spend").fill("10")
    wrong_pin = f"{(int(pin) + 1) % 10_000:04d}"
    spend = card.get_by_role("button", name="Spend from the card")
    error = card.locator("#pin-error")
    for left in (4, 3, 2, 1):
        card.get_by_label("PIN").fill(wrong_pin)
        cashier.submit(spend, 401)
        attempts = "attempt" if left == 1 else "attempts"
        expect(error).to_have_text(f"Wrong PIN. {left} {attempts} left.")
        # The shopper can try again at once: the PIN field has the focus, not the code's.
        expect(card.get_by_label("PIN")).to_be_focused()
    card.get_by_label("PIN").fill(wrong_pin)
    cashier.submit(spend, 401)
    expect(error).to_have_text(NOW_LOCKED)
    expect(card.get_by_label("PIN")).to_have_attribute("aria-invalid", "true")
    cashier.check("redeem-card-locked")

    # Now the right PIN is refused too, and the card keeps its points.
    card.get_by_label("PIN").fill(pin)
    cashier.submit(spend, 403)
    expect(error).to_have_text(LOCKED)
    found = session.scalars(
        sa.select(PrintedCard).where(PrintedCard.number == number.replace(" ", ""))
    ).one()
    assert (printed_cards.balance(session, found), found.failed_pins) == (30, 5)
    session.rollback()  # end the read: on SQLite it would hold up the server's writes
