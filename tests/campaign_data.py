"""A generated town with a campaign or an event and its sales, for the evaluation tests."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lokaal_sparen.demo import sint_gillis_waas as demo
from lokaal_sparen.demo import year as demo_year
from loyalty.analytics import release
from loyalty.earning import campaigns
from loyalty.models import Campaign, Merchant, PurchaseEvent, ReleasedCell, ReleasedDay, Scheme
from tests.factories import make_merchant, make_scheme

ZONE = ZoneInfo("Europe/Brussels")


START = date(2026, 3, 2)  # a Monday


LENGTH = 21


AFTER_END = datetime(2026, 4, 20, 12, tzinfo=UTC)


def utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZONE).astimezone(UTC)


def town(session: Session) -> tuple[Scheme, list[Merchant]]:
    scheme = make_scheme(session)
    shops = [make_merchant(session, scheme, sector=sector, name=name)
             for name, sector, *_ in demo.SHOPS]
    return scheme, shops


def store(
    session: Session, scheme: Scheme, shops: list[Merchant], planned: Any
) -> list[tuple[date, int, int]]:
    """Purchase events of the planned sales; returns (day, shop index, cents) per sale."""
    rows, sales = [], []
    for day, day_sales in planned:
        for sale in day_sales:
            merchant = shops[sale.shop]
            rows.append({
                "scheme_id": scheme.id, "merchant_id": merchant.id, "sector": merchant.sector,
                "amount_cents": sale.amount_cents, "points": sale.amount_cents // 100,
                "local_date": day, "local_hour": sale.at.hour, "weekday": day.weekday(),
                "shopper_key": f"shopper-{sale.shopper}",
            })
            sales.append((day, sale.shop, sale.amount_cents))
    session.execute(sa.insert(PurchaseEvent), rows)
    session.commit()
    return sales


def make_campaign(session: Session, scheme: Scheme, **kw: Any) -> Campaign:
    campaign = campaigns.create_campaign(
        session, scheme, name="Dubbele punten", starts_at=utc(START),
        ends_at=utc(START + timedelta(days=LENGTH)), budget_cents=100_000,
        multiplier_pct=200, now=utc(START - timedelta(days=1)), **kw,
    )
    session.commit()
    return campaign


def generate(session: Session, lift: float, seed: int) -> tuple[Campaign, list[Any]]:
    scheme, shops = town(session)
    campaign = make_campaign(session, scheme, sectors_=["47.2", "47.7"])
    treated = {i for i, m in enumerate(shops) if campaigns.covers(campaign, m)}
    rng = random.Random(seed)
    specs = [demo_year.spec(sector, typical) for _n, sector, _s, _v, typical in demo.SHOPS]
    plan = demo_year.make_plan(rng, specs, 800)
    end = START + timedelta(days=LENGTH)

    def effect(day: date, shop: int) -> float:
        return 1 + lift if shop in treated and START <= day < end else 1.0

    planned = demo_year.plan_sales(
        rng, plan, START - timedelta(days=35), end + timedelta(days=LENGTH), effect
    )
    return campaign, store(session, scheme, shops, planned)


EVENT = (date(2026, 3, 13), date(2026, 3, 15))  # Friday to Sunday


def event_data(session: Session, lift: float, seed: int) -> tuple[Scheme, Any]:
    scheme, shops = town(session)
    rng = random.Random(seed)
    specs = [demo_year.spec(sector, typical) for _n, sector, _s, _v, typical in demo.SHOPS]
    plan = demo_year.make_plan(rng, specs, 800)

    def effect(day: date, _shop: int) -> float:
        return 1 + lift if EVENT[0] <= day <= EVENT[1] else 1.0

    last_year = (EVENT[0] - timedelta(days=364), EVENT[1] - timedelta(days=364))
    store(session, scheme, shops, demo_year.plan_sales(rng, plan, *last_year))
    store(session, scheme, shops, demo_year.plan_sales(
        rng, plan, EVENT[0] - timedelta(weeks=7), EVENT[1] + timedelta(days=3), effect
    ))
    event = campaigns.create_event(
        session, scheme, name="Kermis", starts_on=EVENT[0], ends_on=EVENT[1]
    )
    session.commit()
    return scheme, event


# The least noise a municipality may choose (the settings page's bounds): a
# shopper's day counts one purchase and at most EUR 50, the daily budget is 4.
# Even so, a town of 20 shops and about EUR 4,000 a day has noise of about EUR 530
# a day on the 9 sector cells of each group: the interval of a three-week
# campaign is some 45 points wide on each side, so a +15% effect is *covered*
# but not told apart from zero (at the default budget of 1 the interval spans
# -85% to several hundred percent). docs/privacy.md says so; a campaign's own
# release (loyalty.analytics.campaign_release) is what tells it apart.
LEAST_NOISE = {"release_epsilon_per_day": 4.0, "release_max_purchases": 1,
               "release_max_cents": 5_000}


def noise(rng: random.Random, scale: float) -> int:
    """Discrete Laplace noise of ``scale``: the difference of two geometric draws (the
    distribution OpenDP's make_laplace samples on integers), from a seeded generator."""
    def geometric() -> int:
        return math.floor(-scale * math.log(1.0 - rng.random()))

    return geometric() - geometric()


def release_seeded(session: Session, scheme: Scheme, seed: int, now: datetime = AFTER_END,
                   **settings: Any) -> None:
    """Release the scheme's closed days as the nightly job does (bounded days, fixed
    cells, the parameters' noise scales), with noise from a seeded generator instead
    of OpenDP's: each test town is then the same town with the same noise on every
    run, so a test can name towns whose 95% interval holds the truth (as with the
    generated sales). The noise's distribution is the mechanism's (test_release)."""
    for name, value in settings.items():
        setattr(scheme, name, value)
    rng = random.Random(seed)
    params = release.parameters(scheme)
    keys = release.table_keys(session, scheme)
    for day in release.closed_days(session, scheme, now):
        counted = release.bounded(release._purchases(session, scheme, day),
                                  params.max_purchases, params.max_cents)
        exact = release.exact_cells(counted, keys)
        session.add(ReleasedDay(scheme_id=scheme.id, day=day, epsilon=params.epsilon_per_day,
                                max_purchases=params.max_purchases,
                                max_cents=params.max_cents,
                                cells=sum(len(c) for c in exact.values())))
        session.flush()
        session.execute(sa.insert(ReleasedCell), [
            {"scheme_id": scheme.id, "day": day, "table": table, "key": key,
             "purchases": purchases + noise(rng, params.purchases_scale),
             "amount_cents": amount + noise(rng, params.amount_scale),
             "purchases_scale": params.purchases_scale, "amount_scale": params.amount_scale}
            for table, cells in exact.items() for key, (purchases, amount) in cells.items()
        ])
    session.commit()
