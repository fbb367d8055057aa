"""The comparison page: figures per inhabitant, side by side, of the schemes that
opted in, and of no other; a municipality too small to hide its shoppers is hidden."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import comparison
from loyalty.models import Scheme
from tests.factories import make_merchant
from tests.municipality_dashboard.conftest import Municipality, html, make_municipality
from tests.municipality_dashboard.fraud_data import DAY, at, sale


def _shopping(session: Session, scheme: Scheme, shops: int, shoppers: int) -> None:
    """One sale of € 20 per shopper on DAY, spread over the shops."""
    from loyalty.shoppers import wallets

    made = [make_merchant(session, scheme) for _ in range(shops)]
    for n in range(shoppers):
        wallet = wallets.create_wallet(session, scheme).wallet
        sale(session, made[n % shops], wallet, 2000, at(DAY, 10, n % 60))
    session.commit()


def test_only_opted_in_schemes_are_compared_per_inhabitant(app: Flask, session: Session) -> None:
    big = make_municipality(app, session, name="Grootdorp", compare_opt_in=True, inhabitants=20_000)
    small = make_municipality(
        app, session, name="Kleindorp", compare_opt_in=True, inhabitants=5_000
    )
    shy = make_municipality(app, session, name="Stildorp", compare_opt_in=False, inhabitants=8_000)
    tiny = make_municipality(app, session, name="Piepklein", compare_opt_in=True, inhabitants=900)
    _shopping(session, big.scheme, shops=4, shoppers=40)
    _shopping(session, small.scheme, shops=3, shoppers=10)
    _shopping(session, shy.scheme, shops=3, shoppers=30)
    _shopping(session, tiny.scheme, shops=2, shoppers=12)  # two shops: a shop could be read off

    figures = {
        f.name: f
        for f in comparison.compare(session, DAY, DAY)
        if f.scheme_id in (big.scheme.id, small.scheme.id, shy.scheme.id, tiny.scheme.id)
    }
    session.rollback()
    assert set(figures) == {"Grootdorp", "Kleindorp", "Piepklein"}
    grand = figures["Grootdorp"]
    assert (grand.active_shops, grand.purchases, grand.spending_cents, grand.points_issued) == (
        4,
        40,
        80_000,
        800,
    )
    assert grand.per_1000(grand.purchases) == 2.0
    assert grand.cents_per_inhabitant(grand.spending_cents) == 4
    assert figures["Kleindorp"].per_1000(figures["Kleindorp"].active_shops) == 0.6
    assert figures["Piepklein"].suppressed

    period = f"since={DAY}&until={DAY}"
    page = html(big.analyst_client.get(f"/dashboard/compare?{period}"))
    assert "Grootdorp" in page and "Kleindorp" in page and "Piepklein" in page
    assert "Stildorp" not in page
    assert "hidden: too few shops or shoppers" in page
    assert "€0.04" in page  # € 800 spent by 20,000 inhabitants

    # A municipality that does not share sees no one else's figures.
    closed = html(shy.admin_client.get(f"/dashboard/compare?{period}"))
    assert "does not share its totals" in closed
    assert "Grootdorp" not in closed and "Kleindorp" not in closed
    # A period that ends before it starts is refused with a reason.
    wrong = big.analyst_client.get(
        f"/dashboard/compare?since={DAY}&until={DAY - timedelta(days=3)}"
    )
    assert wrong.status_code == 422
    assert "The end comes before the start." in html(wrong)


def test_comparison_page_for_a_town_without_data(session: Session, town: Municipality) -> None:
    assert town.analyst_client.get("/dashboard/compare").status_code == 200
