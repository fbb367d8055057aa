"""Generated purchase events with believable patterns, for benchmarks and tests.

Events are written straight into the analytics table (no wallets, claims or
ledger postings behind them): the reports only read that table and its
rollups. Patterns: each shopper has a home (village, other municipality or no
consent), an age band and a few favourite shops; Saturdays are busiest and
Sundays quiet; December is busy and summer a little quieter; each kind of shop
has its own hours and typical sale.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import Merchant, PurchaseEvent, Scheme

AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
OTHER_POSTCODES = ["9100", "9120", "9130", "9150", "9160", "9190", "2070", "9000"]
WEEKDAY_WEIGHT = [0.8, 0.9, 1.0, 0.95, 1.25, 1.7, 0.35]
MONTH_WEIGHT = [0.85, 0.85, 0.95, 1.0, 1.0, 0.95, 0.85, 0.85, 1.0, 1.0, 1.1, 1.45]
HOURS_BY_SECTOR_PREFIX = {
    "56.1": [12, 12, 13, 18, 19, 19, 20],  # restaurants: lunch and dinner
    "56.3": [10, 11, 15, 16, 17, 18, 20, 21],  # cafés
    "47.24": [7, 8, 8, 9, 9, 10, 11, 16, 17],  # bakeries: early
}
DEFAULT_HOURS = [9, 10, 10, 11, 11, 13, 14, 15, 16, 16, 17, 17, 18]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Generated:
    events: int
    shoppers: int
    shops: int
    first_day: date
    last_day: date


def _hours(sector: str) -> list[int]:
    for prefix, hours in HOURS_BY_SECTOR_PREFIX.items():
        if sector.startswith(prefix):
            return hours
    return DEFAULT_HOURS


def generate_events(
    session: Session,
    scheme: Scheme,
    n: int,
    *,
    end: date,
    days: int = 365,
    shoppers: int | None = None,
    seed: int = 46020,
    progress: Progress | None = None,
    batch: int = 10_000,
) -> Generated:
    """Insert ``n`` purchase events for the scheme's approved shops over ``days`` days up
    to ``end``. Needs at least one shop. Flushes, never commits."""
    rng = random.Random(seed)
    merchants = list(
        session.execute(
            sa.select(Merchant.id, Merchant.sector).where(
                Merchant.scheme_id == scheme.id, Merchant.status == "approved"
            ).order_by(Merchant.id)
        )
    )
    if not merchants:
        raise ValueError("the scheme has no approved shop")
    # Typical sale per shop, and how popular it is.
    typical = [rng.choice([900, 1500, 2200, 3000, 4500, 7000, 12000]) for _ in merchants]
    popularity = [rng.uniform(0.4, 2.0) for _ in merchants]
    n_shoppers = shoppers or max(50, n // 30)
    villages = [str(v) for v in (scheme.villages or [])]
    secret = rng.randbytes(32)
    people = []
    for i in range(n_shoppers):
        roll = rng.random()
        postcode = village = age = None
        if roll < 0.6:  # consented to statistics
            if villages and rng.random() < 0.8:
                postcode = "9170"
                village = rng.choices(villages, weights=[50, 15, 15, 20][: len(villages)])[0]
            else:
                postcode = rng.choice(OTHER_POSTCODES)
            age = rng.choice(AGE_BANDS)
        k = min(len(merchants), rng.randint(1, 6))
        favourites = rng.choices(range(len(merchants)), weights=popularity, k=k)
        people.append((i, postcode, village, age, favourites, rng.uniform(0.3, 3.0)))
    activity = [p[5] for p in people]

    first = end - timedelta(days=days - 1)
    day_list = [first + timedelta(days=d) for d in range(days)]
    day_weights = [WEEKDAY_WEIGHT[d.weekday()] * MONTH_WEIGHT[d.month - 1] for d in day_list]
    keys: dict[tuple[int, int], str] = {}

    def key(person: int, year: int) -> str:
        found = keys.get((person, year))
        if found is None:
            found = hmac.new(secret + str(year).encode(), str(person).encode(),
                             hashlib.sha256).hexdigest()
            keys[(person, year)] = found
        return found

    rows: list[dict[str, object]] = []
    done = 0
    chosen_days = rng.choices(day_list, weights=day_weights, k=n)
    chosen_people = rng.choices(people, weights=activity, k=n)
    # In date order, as a live system would have written them.
    order = sorted(range(n), key=chosen_days.__getitem__)
    for i in order:
        day, person = chosen_days[i], chosen_people[i]
        index, postcode, village, age, favourites, _activity = person
        shop = rng.choice(favourites)
        merchant_id, sector = merchants[shop]
        amount = max(100, int(rng.gauss(typical[shop], typical[shop] / 3)))
        rows.append({
            "scheme_id": scheme.id,
            "merchant_id": merchant_id,
            "sector": sector,
            "amount_cents": amount,
            "points": amount // 100 * scheme.earn_rate,
            "campaign_id": None,
            "local_date": day,
            "local_hour": rng.choice(_hours(sector)),
            "weekday": day.weekday(),
            "shopper_key": key(index, day.year),
            "home_postcode": postcode,
            "home_village": village,
            "age_band": age,
        })
        if len(rows) >= batch:
            session.execute(sa.insert(PurchaseEvent), rows)
            done += len(rows)
            rows = []
            if progress:
                progress(done, n)
    if rows:
        session.execute(sa.insert(PurchaseEvent), rows)
        done += len(rows)
        if progress:
            progress(done, n)
    session.flush()
    return Generated(done, n_shoppers, len(merchants), first, end)
