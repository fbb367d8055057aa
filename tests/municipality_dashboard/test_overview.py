"""The dashboard's overview: last month's spending through the privacy rules, points
outstanding, running campaigns and open fraud flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import generate, period_release, release, report_kit
from loyalty.analytics.periods import Period
from loyalty.models import PurchaseEvent
from tests.factories import make_merchant
from tests.municipality_dashboard.conftest import Municipality, html

# Every day up to yesterday closed (and its grace passed).
RELEASED_AT = datetime.now(UTC) - timedelta(hours=1)


def format_euro(cents: int) -> str:
    return format_currency(cents / 100, "EUR", locale="en_IE")


def _last_month(town: Municipality) -> tuple:  # type: ignore[type-arg]
    first = report_kit.today_local(town.scheme).replace(day=1)
    return first - timedelta(days=1) - timedelta(days=40), first - timedelta(days=1)


def test_the_overview_shows_last_months_spending_and_what_needs_doing(
    app: Flask, session: Session, town: Municipality
) -> None:
    for i in range(12):
        make_merchant(session, town.scheme, name=f"Zaak {i}", sector="47.24")
    _start, end = _last_month(town)
    generate.generate_events(session, town.scheme, 3000, end=end, days=70, shoppers=200, seed=7)
    release.release(session, town.scheme, RELEASED_AT)  # the nightly job, up to yesterday
    period_release.release_periods(session, town.scheme, RELEASED_AT)
    session.commit()
    month_start = end.replace(day=1)
    # Last month's figures are the sums of its released cells; its distinct shoppers
    # are the count released for the whole month, with noise.
    released = release.released_by(session, town.scheme.id, "all",
                                   Period(month_start, end))["all"]
    amount, purchases = max(released.amount_cents, 0), released.purchases
    month = period_release.released(session, town.scheme.id, Period(month_start, end))
    assert month is not None
    shoppers = month["shoppers"]["all"]
    exact = session.scalar(
        sa.select(sa.func.count(sa.distinct(PurchaseEvent.shopper_key))).where(
            PurchaseEvent.scheme_id == town.scheme.id,
            PurchaseEvent.local_date.between(month_start, end),
        )
    )
    # The noise of scale 5 stays within 50 of the exact count (p < 1e-4 beyond).
    assert exact and abs(shoppers.shoppers - exact) <= 50 and shoppers.margin == 15
    session.rollback()

    page = html(town.admin_client.get("/dashboard/?lang=en"))
    assert "Local spending in" in page
    assert format_euro(int(amount)) in page
    assert f"{purchases:,}" in page and f"± {released.purchases_margin:,}" in page
    assert f"± {format_euro(released.amount_margin_cents)}" in page
    assert f"<strong>{shoppers.shoppers:,}</strong> <span class=\"margin\">± 15</span>" in page
    assert "Points outstanding" in page and "No campaign is running." in page
    assert "No open flags." in page
    # The trend: spending per month, last month's point named and valued as above.
    assert "Spending per month" in page and 'id="chart-trend-t"' in page
    month_name = format_date(month_start, "MMM y", locale="en_IE")
    assert f"<title>{month_name}: {format_euro(int(amount))}</title>" in page
    # The analyst sees the figures but not the admin's to-do list.
    analyst = html(town.analyst_client.get("/dashboard/?lang=en"))
    assert format_euro(int(amount)) in analyst and "Fraud flags" not in analyst


def test_the_overview_hides_a_month_with_too_few_shoppers(
    session: Session, town: Municipality
) -> None:
    for i in range(3):
        make_merchant(session, town.scheme, name=f"Zaak {i}", sector="47.24")
    _start, end = _last_month(town)
    generate.generate_events(session, town.scheme, 40, end=end, days=20, shoppers=6, seed=3)
    # At most 40 purchases, with noise of scale 2.5 a day (the least noise the
    # settings allow): the month's noisy count stays far below k = 150 (by over
    # five standard deviations).
    town.scheme.k_anonymity = 150
    town.scheme.release_epsilon_per_day = 4.0
    town.scheme.release_max_purchases = 1
    release.release(session, town.scheme, RELEASED_AT)
    session.commit()
    session.rollback()
    page = html(town.admin_client.get("/dashboard/?lang=en"))
    assert "Too few shoppers this month to show figures." in page
