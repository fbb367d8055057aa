"""Town services: the admin marks the library as the municipality's own, the shop
directory labels it, and the settlement page shows its takings without a payout."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import Merchant
from loyalty.money.settlement import bank_accounts, monthly
from tests.municipality_dashboard.conftest import Municipality, audit_rows, html, post
from tests.settlement_data import earn_and_redeem, iban_for, make_shops

NOW = datetime(2025, 4, 3, 12, tzinfo=UTC)


def test_the_admin_makes_the_library_a_town_service_shown_as_such(
    app: Flask, session: Session, town: Municipality
) -> None:
    scheme = town.scheme
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    bakery, library = make_shops(session, scheme, 2)
    library.name = "Bibliotheek Sint-Gillis-Waas"
    bank_accounts.set_merchant_bank_account(session, library, iban_for(7), "GEBABEBB", "Gemeente")
    session.commit()
    library_id = library.id

    answer = post(town.admin_client, f"/dashboard/shops/{library_id}/town-service",
                  town_service="1")
    assert answer.status_code == 303
    assert "Municipal service" in html(town.admin_client.get("/dashboard/shops"))
    # An analyst may not change it.
    assert post(town.analyst_client, f"/dashboard/shops/{library_id}/town-service",
                town_service="0").status_code == 403
    assert [row.details for row in audit_rows(session, scheme.id, "merchant.town_service")] == [
        {"from": False, "to": True}]

    directory = app.test_client()
    directory.set_cookie("lang", "nl")
    page = html(directory.get("/shops"))
    card = page.split("Bibliotheek Sint-Gillis-Waas")[1]
    assert "<strong>Gemeentelijke dienst</strong> · " in card

    earn_and_redeem(session, scheme, bakery, session.get_one(Merchant, library_id), 100,
                    datetime(2025, 3, 12, 10, tzinfo=UTC))
    locked = monthly.settle(session, scheme, "2025-03", NOW).settlement
    session.commit()
    assert "Bibliotheek" not in (locked.sepa_xml or "")
    detail = html(town.admin_client.get("/dashboard/settlements/2025-03"))
    row = detail.split("Bibliotheek Sint-Gillis-Waas")[-1].split("</tr>")[0]
    assert "town service: kept by the municipality" in row
    assert "paid" not in row
