"""The dashboard's overview: last month's spending through the privacy rules, points
outstanding, running campaigns and open fraud flags."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import generate, report_kit
from loyalty.models import PurchaseEvent
from tests.factories import make_merchant
from tests.municipality_dashboard.conftest import Municipality, html


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
    session.commit()
    month_start = end.replace(day=1)
    amount, purchases = session.execute(
        sa.select(sa.func.sum(PurchaseEvent.amount_cents), sa.func.count()).where(
            PurchaseEvent.scheme_id == town.scheme.id,
            PurchaseEvent.local_date.between(month_start, end),
        )
    ).one()
    session.rollback()

    page = html(town.admin_client.get("/dashboard/?lang=en"))
    assert "Local spending in" in page
    assert format_euro(int(amount)) in page
    assert f"{purchases:,}" in page
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
    session.commit()
    session.rollback()
    page = html(town.admin_client.get("/dashboard/?lang=en"))
    assert "Too few shoppers this month to show figures." in page
