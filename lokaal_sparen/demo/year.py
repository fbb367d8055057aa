"""A believable year of sales for the demo (and generated data for the evaluation tests).

``plan_sales`` draws every sale of a period from a simple model of a small
Flemish town: each shop has a usual number of sales a day, shaped by the
weekday (Saturday peak, most shops closed on Sunday), the month (a quiet
summer, a busy December, bikes in spring), local events and campaigns, and a
bit of noise per day and per shop. Shoppers are loyal to a few shops.

``write_bulk`` stores planned sales as the earn path would (claim, ledger
transaction with its euro legs and any campaign bonus, purchase event) and
some redemptions, but in a few large INSERTs: a year through the domain
functions would take many minutes. The ledger it writes verifies like any
other (`loyalty ledger verify`).
"""

from __future__ import annotations

import math
import random
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import events
from loyalty.earning import campaigns
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    Campaign,
    Claim,
    ClaimStatus,
    LedgerTransaction,
    Merchant,
    Posting,
    PurchaseEvent,
    Redemption,
    RedemptionStatus,
    Scheme,
    Wallet,
)
from loyalty.money import ledger
from loyalty.shops import opening_hours
from loyalty.spending import redemptions

# Busy hours by sector prefix (first match wins); everything else: shop hours.
HOURS: list[tuple[str, list[int]]] = [
    ("47.24", [7, 8, 8, 9, 9, 10, 10, 11, 12, 16, 17]),
    ("56.1", [12, 12, 13, 18, 18, 19, 19, 20]),
    ("56.3", [11, 15, 16, 17, 17, 18, 20, 21]),
    ("47.1", [8, 9, 10, 11, 16, 17, 17, 18]),
]
SHOP_HOURS = [9, 10, 10, 11, 11, 13, 14, 15, 16, 16, 17]
OPEN_ON_SUNDAY = ("47.24", "56.")
MONTH = [0.85, 0.85, 0.95, 1.0, 1.0, 1.0, 0.9, 0.85, 1.0, 1.0, 1.05, 1.35]
DAY_NOISE = 0.08  # weather and the like, the same for every shop
SHOP_DAY_NOISE = 0.12


@dataclass(frozen=True)
class ShopSpec:
    sector: str
    typical_euro: int
    per_day: float  # usual sales on a weekday
    # When the shop is open (its door notation, parsed); None: the sector's usual days.
    opening: opening_hours.Hours | None = None


@dataclass(frozen=True)
class Sale:
    at: datetime  # local time
    shop: int  # index into the shop specs
    shopper: int  # index into the shoppers
    amount_cents: int


@dataclass
class Plan:
    shops: list[ShopSpec]
    favourites: list[list[int]]  # per shopper, shop indexes
    clientele: list[list[int]] = field(default_factory=list)  # per shop, shopper indexes
    # How often each shopper shops (a weight), and the days they take part: a
    # town has a few regulars, many occasional shoppers, newcomers and leavers.
    activity: list[float] = field(default_factory=list)
    active: list[tuple[date, date]] = field(default_factory=list)


def spec(sector: str, typical_euro: int, size: float = 1.0,
         opening: str | None = None) -> ShopSpec:
    """Cheap daily shopping sells often; a bike or glasses now and then. ``size``
    scales a shop's trade (a supermarket against a corner shop); ``opening`` is its
    door notation, which the sales then keep to."""
    per_day = min(25.0, max(1.5, 220 / typical_euro)) * size
    return ShopSpec(sector, typical_euro, per_day, opening_hours.parse(opening))


def _month_curve(day: date) -> float:
    """MONTH at the middle of each month, linear in between: no jump on the 1st."""
    middle = date(day.year, day.month, 15)
    other = (middle + timedelta(days=31 if day >= middle else -31)).replace(day=15)
    here, there = MONTH[middle.month - 1], MONTH[other.month - 1]
    share = abs((day - middle).days) / abs((other - middle).days)
    return here + (there - here) * share


def season(sector: str, day: date) -> float:
    factor = _month_curve(day)
    if day.month == 12 and sector in ("47.65", "47.24", "47.25", "47.61"):
        factor *= 1.5  # toys, chocolate, wine and books for the holidays
    if sector == "47.64" and 4 <= day.month <= 7:
        factor *= 1.4  # bikes in spring
    return factor


def weekday_factor(sector: str, day: date) -> float:
    wd = day.weekday()
    if wd == 6:
        return 0.8 if sector.startswith(OPEN_ON_SUNDAY) else 0.0
    return {0: 0.8, 4: 1.15, 5: 1.6}.get(wd, 1.0)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def make_plan(rng: random.Random, shops: list[ShopSpec], n_shoppers: int,
              period: tuple[date, date] | None = None) -> Plan:
    """Each shopper's favourite shops. With ``period``, shoppers also differ in
    how often they shop and some join late or stop early (the demo); without
    it, every shopper is alike all along (the evaluation tests' simple model)."""
    weights = [s.per_day for s in shops]
    favourites = []
    for _ in range(n_shoppers):
        chosen: set[int] = set()
        want = rng.randint(2, 6)
        while len(chosen) < want:
            chosen.add(rng.choices(range(len(shops)), weights=weights)[0])
        favourites.append(sorted(chosen))
    clientele: list[list[int]] = [[] for _ in shops]
    for shopper, shop_ids in enumerate(favourites):
        for shop in shop_ids:
            clientele[shop].append(shopper)
    if period is None:
        return Plan(shops, favourites, clientele)
    first, last = period
    span = (last - first).days
    activity, active = [], []
    for _ in range(n_shoppers):
        activity.append(rng.lognormvariate(0, 1.3))  # a few regulars, a long tail
        joined, left = first, last
        if rng.random() < 0.35:  # joined during the year
            joined = first + timedelta(days=rng.randint(0, span))
        if rng.random() < 0.2:  # stopped (moved away, lost interest)
            left = max(joined, first + timedelta(days=rng.randint(0, span)))
        active.append((joined, left))
    return Plan(shops, favourites, clientele, activity, active)


def plan_sales(
    rng: random.Random,
    plan: Plan,
    first: date,
    last: date,
    effect: Callable[[date, int], float] = lambda _day, _shop: 1.0,
) -> Iterator[tuple[date, list[Sale]]]:
    """Each day's sales from ``first`` to ``last``; ``effect`` multiplies a shop's sales."""
    day = first
    while day <= last:
        common = math.exp(rng.gauss(0, DAY_NOISE))
        sales: list[Sale] = []
        for index, shop in enumerate(plan.shops):
            weekday = weekday_factor(shop.sector, day)
            periods = None
            if shop.opening is not None:  # its own days, not the sector's usual ones
                periods = opening_hours.periods_on(shop.opening, day.weekday())
                weekday = (0.8 if day.weekday() == 6 else weekday) if periods else 0.0
            lam = (
                shop.per_day * season(shop.sector, day) * weekday
                * effect(day, index) * common * math.exp(rng.gauss(0, SHOP_DAY_NOISE))
            )
            if not plan.clientele[index] or not lam:
                continue
            hours = next((h for p, h in HOURS if shop.sector.startswith(p)), SHOP_HOURS)
            clientele, weights = plan.clientele[index], None
            if plan.active:
                clientele = [c for c in clientele if plan.active[c][0] <= day <= plan.active[c][1]]
                weights = [plan.activity[c] for c in clientele]
                if not clientele:
                    continue
            today_here: dict[int, int] = defaultdict(int)
            for _ in range(poisson(rng, lam)):
                euro = max(1.5, rng.gauss(shop.typical_euro, shop.typical_euro / 3))
                at = datetime.combine(day, _sale_time(rng, hours, periods))
                if weights:
                    # A regular comes often, but not ten times a day to one shop.
                    shopper = rng.choices(clientele, weights)[0]
                    for _retry in range(5):
                        if today_here[shopper] < 2:
                            break
                        shopper = rng.choices(clientele, weights)[0]
                    today_here[shopper] += 1
                else:
                    shopper = rng.choice(clientele)
                sales.append(Sale(at, index, shopper, int(euro * 100)))
        sales.sort(key=lambda s: s.at)
        yield day, sales
        day += timedelta(days=1)


def _sale_time(rng: random.Random, hours: list[int],
               periods: list[tuple[time, time]] | None) -> time:
    """A time of sale: one of the sector's busy hours, within the opening hours when known."""
    if periods is None:
        return time(rng.choice(hours), rng.randint(0, 59))

    def minutes(t: time) -> int:
        return t.hour * 60 + t.minute

    spans = [(minutes(a), minutes(b)) for a, b in periods]
    busy = [h for h in hours if any(a < (h + 1) * 60 and h * 60 < b for a, b in spans)]
    if busy:
        hour = rng.choice(busy)
        inside = [m for a, b in spans for m in range(max(a, hour * 60), min(b, hour * 60 + 60))]
    else:
        inside = [m for a, b in spans for m in range(a, b)]
    chosen = rng.choice(inside)
    return time(chosen // 60, chosen % 60)


def spend_amount(rng: random.Random, balance: int) -> int:
    """What a shopper spends: a round amount they have, often 50 or 100 points,
    sometimes everything (rounded down to ten points); 0 when they keep saving."""
    if balance < 50 or rng.random() > 0.12:
        return 0
    if rng.random() < 0.2:
        return balance // 10 * 10
    choices = [p for p in (50, 100, 150, 200, 250, 300, 500) if p <= balance]
    return rng.choices(choices, weights=[1 / (i + 1) for i in range(len(choices))])[0]


# -- storing planned sales in bulk --------------------------------------------

CHUNK = 5000


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    # Core executemany: the ORM's bulk insert costs several times more per row.
    # It takes its columns from the first row and would silently drop a value
    # that only a later row names, so every row must name the same columns.
    if rows and any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError(f"rows for {_table(model).name} name different columns")
    for i in range(0, len(rows), CHUNK):
        session.execute(_table(model).insert(), rows[i : i + CHUNK])


def _insert_with_ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows under ids chosen here, which the caller needs for rows that refer to them.

    The demo loads into an empty database before the server starts, so nobody
    else takes ids meanwhile; PostgreSQL's sequence is moved past them after.
    """
    start = (session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1
    ids = list(range(start, start + len(rows)))
    _insert(session, model, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    if session.get_bind().dialect.name == "postgresql" and ids:
        name = _table(model).name
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
            {"t": name, "v": ids[-1]},
        )
    return ids


def create_wallets(session: Session, scheme: Scheme, profiles: list[dict[str, Any]],
                   created_at: datetime) -> list[int]:
    """Wallets (nobody holds their tokens: their hashes are random) and their accounts."""
    ids = _insert_with_ids(session, Wallet, [
        {
            "scheme_id": scheme.id,
            "token_hash": secrets.token_hex(32),
            "recovery_hash": secrets.token_hex(32),
            "status": "active",
            "created_at": created_at,
            "stats_consent": bool(p.get("age_band")),
            # Every row names every column: a bulk insert takes its columns
            # from the first row, so a missing key would drop later values.
            "home_postcode": p.get("home_postcode"),
            "home_village": p.get("home_village"),
            "age_band": p.get("age_band"),
        }
        for p in profiles
    ])
    _insert(session, Account, [
        {"scheme_id": scheme.id, "kind": AccountKind.WALLET, "asset": Asset.POINTS,
         "owner_key": ledger.wallet_owner(wid), "wallet_id": wid, "balance": 0}
        for wid in ids
    ])
    return ids


@dataclass
class BulkResult:
    earns: int = 0
    spends: int = 0
    bonus_points: int = 0


def write_bulk(
    session: Session,
    scheme: Scheme,
    merchants: list[Merchant],
    wallet_ids: list[int],
    days: list[tuple[date, list[Sale]]],
    balances: dict[int, int],
    rng: random.Random,
    progress: Callable[[str, int, int], None],
) -> BulkResult:
    """Store the sales of ``days`` (and some spends) as claims, ledger postings and events.

    ``balances`` (points per wallet index) is carried from one call to the next.
    Campaigns of the scheme that cover a sale pay their bonus while their budget
    lasts, exactly as claims.collect does.
    """
    tz = ZoneInfo(scheme.timezone)
    pv = scheme.point_value_cents
    # The demo's year moves points and their euro side only; the shoppers' own
    # euros (town money) have holds and shop accounts of the same kinds, so they
    # are left out of this (kind, owner) map.
    accounts = {
        (kind, owner): aid
        for aid, kind, owner in session.execute(
            sa.select(Account.id, Account.kind, Account.owner_key).where(
                Account.scheme_id == scheme.id, Account.asset != Asset.EUROS
            )
        )
    }
    all_campaigns = session.scalars(
        sa.select(Campaign).where(Campaign.scheme_id == scheme.id).order_by(Campaign.id)
    ).all()
    remaining: dict[int, int] = {}
    for c in all_campaigns:
        budget = accounts[(AccountKind.CAMPAIGN_BUDGET, campaigns.owner(c.id))]
        remaining[c.id] = session.scalar(
            sa.select(Account.balance).where(Account.id == budget)
        ) or 0
    liability = accounts[(AccountKind.POINTS_LIABILITY, ledger.SCHEME_OWNER)]
    holds = accounts[(AccountKind.HOLDS, ledger.SCHEME_OWNER)]
    keys: dict[tuple[int, int], str] = {}
    used_codes: set[str] = set()
    result = BulkResult()

    txns: list[dict[str, Any]] = []
    # What each transaction becomes once its id is known.
    todo: list[tuple[str, dict[str, Any], list[tuple[int, int]]]] = []
    for done, (_day, sales) in enumerate(days, start=1):
        for sale in sales:
            merchant = merchants[sale.shop]
            wallet_id = wallet_ids[sale.shopper]
            at = sale.at.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))
            claimed = at + timedelta(seconds=40)
            points = (sale.amount_cents // 100) * scheme.earn_rate
            if points == 0:
                continue
            owner = ledger.merchant_owner(merchant.id)
            wallet_account = accounts[(AccountKind.WALLET, ledger.wallet_owner(wallet_id))]
            legs = [
                (accounts[(AccountKind.MERCHANT_ISSUED, owner)], -points),
                (wallet_account, points),
                (accounts[(AccountKind.MERCHANT_POSITION, owner)], -points * pv),
                (liability, points * pv),
            ]
            bonus, campaign_id = 0, None
            for c in all_campaigns:
                if c.starts_at <= at < c.ends_at and campaigns.covers(c, merchant):
                    extra = campaigns.bonus_for(c, points)
                    if extra and remaining[c.id] >= extra * pv:
                        remaining[c.id] -= extra * pv
                        bonus, campaign_id = extra, c.id
                        legs += [
                            (accounts[(AccountKind.CAMPAIGN_ISSUED, campaigns.owner(c.id))],
                             -extra),
                            (wallet_account, extra),
                            (accounts[(AccountKind.CAMPAIGN_BUDGET, campaigns.owner(c.id))],
                             -extra * pv),
                            (liability, extra * pv),
                        ]
                        break
            txns.append({"scheme_id": scheme.id, "kind": "earn", "memo": "claim (demo)",
                         "created_at": claimed, "point_value_cents": pv})
            year = sale.at.year
            if (wallet_id, year) not in keys:
                keys[(wallet_id, year)] = events.shopper_key(session, scheme.id, wallet_id, year)
            todo.append(("earn", {
                "claim": {
                    "scheme_id": scheme.id, "merchant_id": merchant.id,
                    "token_hash": secrets.token_hex(32), "amount_cents": sale.amount_cents,
                    "points": points, "stamps": 0, "status": ClaimStatus.CLAIMED,
                    "created_at": at,
                    "expires_at": at + timedelta(seconds=scheme.claim_ttl_seconds),
                    "claimed_at": claimed, "wallet_id": wallet_id,
                },
                "event": {
                    "scheme_id": scheme.id, "merchant_id": merchant.id, "sector": merchant.sector,
                    "amount_cents": sale.amount_cents, "points": points + bonus,
                    "campaign_id": campaign_id, "local_date": sale.at.date(),
                    "local_hour": sale.at.hour, "weekday": sale.at.weekday(),
                    "shopper_key": keys[(wallet_id, year)],
                    "wallet_id": wallet_id,  # only to look up consent data, removed below
                },
            }, legs))
            result.earns += 1
            result.bonus_points += bonus
            balances[sale.shopper] = balances.get(sale.shopper, 0) + points + bonus
            spend = spend_amount(rng, balances[sale.shopper])
            if spend:
                # A spend a little later, at one of the shopper's shops.
                spend_at = claimed + timedelta(minutes=rng.randint(3, 90))
                shop = merchants[sale.shop]
                shop_owner = ledger.merchant_owner(shop.id)
                code = redemptions.new_code()
                while code in used_codes:
                    code = redemptions.new_code()
                used_codes.add(code)
                txns.append({"scheme_id": scheme.id, "kind": "hold", "memo": None,
                             "created_at": spend_at, "point_value_cents": None})
                todo.append(("hold", {}, [(wallet_account, -spend), (holds, spend)]))
                txns.append({"scheme_id": scheme.id, "kind": "redeem",
                             "memo": "redemption (demo)",
                             "created_at": spend_at + timedelta(seconds=30),
                             "point_value_cents": pv})
                todo.append(("redeem", {"redemption": {
                    "scheme_id": scheme.id, "wallet_id": wallet_id, "code": code,
                    "points": spend, "discount_cents": spend * pv,
                    "status": RedemptionStatus.CONFIRMED, "created_at": spend_at,
                    "expires_at": spend_at + timedelta(seconds=scheme.hold_ttl_seconds),
                    "finished_at": spend_at + timedelta(seconds=30), "merchant_id": shop.id,
                }}, [
                    (holds, -spend),
                    (accounts[(AccountKind.MERCHANT_REDEEMED, shop_owner)], spend),
                    (liability, -spend * pv),
                    (accounts[(AccountKind.MERCHANT_POSITION, shop_owner)], spend * pv),
                ]))
                balances[sale.shopper] -= spend
                result.spends += 1
        progress("history", done, len(days))

    txn_ids = _insert_with_ids(session, LedgerTransaction, txns)
    consent = {
        wid: (postcode, village, band)
        for wid, postcode, village, band in session.execute(
            sa.select(Wallet.id, Wallet.home_postcode, Wallet.home_village, Wallet.age_band)
            .where(Wallet.scheme_id == scheme.id, Wallet.stats_consent.is_(True))
        )
    }
    postings: list[dict[str, Any]] = []
    claim_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    redemption_rows: list[dict[str, Any]] = []
    moves: dict[int, int] = defaultdict(int)
    last_hold = 0
    for txn_id, (kind, rows, legs) in zip(txn_ids, todo, strict=True):
        for account_id, amount in legs:
            postings.append({"transaction_id": txn_id, "account_id": account_id,
                             "asset": "",  # filled in below
                             "amount": amount})
            moves[account_id] += amount
        if kind == "earn":
            claim_rows.append({**rows["claim"], "transaction_id": txn_id})
            event = dict(rows["event"])
            home = consent.get(event.pop("wallet_id"))
            event["home_postcode"], event["home_village"], event["age_band"] = home or (
                None, None, None
            )
            event_rows.append(event)
        elif kind == "hold":
            last_hold = txn_id
        else:
            redemption_rows.append({**rows["redemption"], "hold_transaction_id": last_hold,
                                    "finish_transaction_id": txn_id})
    asset_of = dict(
        session.execute(sa.select(Account.id, Account.asset).where(Account.id.in_(moves))).all()
    )
    for row in postings:
        row["asset"] = asset_of[row["account_id"]]
    tables = [(Posting, postings), (Claim, claim_rows), (PurchaseEvent, event_rows),
              (Redemption, redemption_rows)]
    for done, (model, batch) in enumerate(tables, start=1):
        _insert(session, model, batch)
        progress("saving", done, len(tables))
    table = _table(Account)
    session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("aid"))
        .values(balance=table.c.balance + sa.bindparam("delta")),
        [{"aid": aid, "delta": delta} for aid, delta in moves.items() if delta],
    )
    session.expire_all()
    return result
