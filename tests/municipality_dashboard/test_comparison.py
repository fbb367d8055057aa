"""The comparison page: figures per inhabitant, side by side, of the schemes that
opted in, and of no other; a municipality too small to hide its shoppers is hidden."""

from __future__ import annotations

import math
from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import comparison, release
from loyalty.models import ReleasedCell, Scheme
from tests.factories import make_merchant
from tests.municipality_dashboard.conftest import Municipality, html, make_municipality
from tests.municipality_dashboard.fraud_data import DAY, at, sale


def _shopping(session: Session, scheme: Scheme, shops: int, shoppers: int) -> None:
    """One sale of € 20 per shopper on DAY, spread over the shops; then the day is
    released (the nightly job), with the least noise the settings allow so that
    the towns' visibility does not depend on chance (the noise itself: test_release)."""
    from loyalty.shoppers import wallets

    scheme.release_epsilon_per_day = 4.0
    scheme.release_max_purchases = 1
    scheme.release_max_cents = 5_000
    made = [make_merchant(session, scheme) for _ in range(shops)]
    for n in range(shoppers):
        wallet = wallets.create_wallet(session, scheme).wallet
        sale(session, made[n % shops], wallet, 2000, at(DAY, 10, n % 60))
    session.commit()
    release.release(session, scheme, at(DAY + timedelta(days=1), 3))
    session.commit()


def _day_cell(session: Session, scheme: Scheme) -> ReleasedCell:
    return session.get_one(ReleasedCell, (scheme.id, DAY, "all", "all"))


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

    ours = (big.scheme.id, small.scheme.id, shy.scheme.id, tiny.scheme.id)
    today = DAY + timedelta(days=60)
    compared = comparison.compare(session, DAY, DAY, today)
    figures = {f.name: f for f in compared.figures if f.scheme_id in ours}
    grand_cell, small_cell = _day_cell(session, big.scheme), _day_cell(session, small.scheme)
    k_big, k_small = big.scheme.k_anonymity, small.scheme.k_anonymity
    # The whole of October: a closed calendar month, for which points issued are given.
    october = {f.name: f for f in comparison.compare(
        session, DAY.replace(day=1), DAY.replace(day=31), today).figures if f.scheme_id in ours}
    session.rollback()
    assert set(figures) == {"Grootdorp", "Kleindorp", "Piepklein"}
    assert compared.released_until == DAY
    grand = figures["Grootdorp"]
    # 40 purchases with noise of scale 1 / (4 / 12) = 3 (six tables, two figures each):
    # above k = 10 but for a chance of e^-10.
    assert grand_cell.purchases >= k_big
    # The released cell of the day, with its margin; points only for whole months.
    assert (grand.active_shops, grand.purchases, grand.spending_cents, grand.points_issued) == (
        4, grand_cell.purchases, grand_cell.amount_cents, None)
    assert grand.purchases_margin == math.ceil(3 * math.log(20))
    assert october["Grootdorp"].points_issued == 800
    assert grand.per_1000(grand.purchases) == round(grand_cell.purchases / 20, 1)
    # 10 shoppers: shown or hidden by the k rule on the noisy count.
    if small_cell.purchases >= k_small:
        assert figures["Kleindorp"].per_1000(figures["Kleindorp"].active_shops) == 0.6
    else:
        assert figures["Kleindorp"].suppressed
    assert figures["Piepklein"].suppressed

    period = f"since={DAY}&until={DAY}"
    page = html(big.analyst_client.get(f"/dashboard/compare?{period}"))
    assert "Grootdorp" in page and "Kleindorp" in page and "Piepklein" in page
    assert "Stildorp" not in page
    assert "hidden: too few shops or shoppers" in page
    # € 800 (plus noise) spent by 20,000 inhabitants, with its margin.
    assert f"€{round(max(grand_cell.amount_cents, 0) / 20_000) / 100:.2f}" in page
    assert "± €" in page and "random noise" in page

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
