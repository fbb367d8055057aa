"""Generated activity for the fraud rules: a believable town, and collusion on top.

Made through the domain functions (claims, redemptions) at chosen times, so the
rules see exactly what a till and a phone would have left in the database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.earning import claims
from loyalty.models import Claim, Merchant, Scheme, Wallet
from loyalty.oversight.fraud import Rule
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme

DAY = date(2026, 10, 15)  # a Thursday: the day the check looks at
TZ = ZoneInfo("Europe/Brussels")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def sale(
    session: Session,
    shop: Merchant,
    wallet: Wallet,
    cents: int,
    when: datetime,
    till_key_id: int | None = None,
) -> Claim:
    """A sale at the till, collected by the wallet twenty seconds later."""
    new = claims.create_claim(session, shop, cents, when, till_key_id=till_key_id)
    claims.collect(session, new.claim, wallet, when + timedelta(seconds=20))
    return new.claim


def spend(session: Session, wallet: Wallet, shop: Merchant, points: int, when: datetime) -> None:
    """A spend code made on the phone and confirmed at the shop's till 40 seconds later."""
    code = redemptions.create_redemption(session, wallet, points, when).code
    redemptions.confirm_redemption(session, code, shop, when + timedelta(seconds=40))


@dataclass
class Town:
    scheme: Scheme
    shops: list[Merchant]
    tills: dict[int, int]  # shop id -> its till key's id
    wallets: list[Wallet]
    expected: set[tuple[str, str, int]] = field(default_factory=set)


# Four shops of different size; every sale goes through the shop's till key.
SHOP_WEIGHTS = (0.4, 0.3, 0.2, 0.1)


def normal_town(session: Session, *, days: int = 21, shoppers: int = 150, seed: int = 7) -> Town:
    """Three weeks up to DAY: shoppers visit now and then (more on Saturday, shops closed
    on Sunday), pay what a local shop sells, and spend their points at the shops they use."""
    rng = random.Random(seed)
    scheme = make_scheme(session)
    shops = [
        make_merchant(session, scheme, name=name)
        for name in (
            "Bakkerij De Smet",
            "Slagerij Van Hoeylandt",
            "Boekhandel Pagina",
            "Bloemen Margriet",
        )
    ]
    now = at(DAY - timedelta(days=days + 30), 8)
    tills = {shop.id: staff.create_till_key(session, shop, now).id for shop in shops}
    people = [wallets.create_wallet(session, scheme).wallet for _ in range(shoppers)]
    for offset in range(days, -1, -1):
        day = DAY - timedelta(days=offset)
        busy = {5: 1.6, 6: 0.0}.get(day.weekday(), 1.0)
        for wallet in people:
            if rng.random() < 0.3 * busy:
                shop = rng.choices(shops, SHOP_WEIGHTS)[0]
                when = at(day, rng.randint(8, 17), rng.randint(0, 59))
                sale(session, shop, wallet, rng.randint(500, 6000), when, tills[shop.id])
            if busy and rng.random() < 0.1 and wallets.points_balance(session, wallet) >= 40:
                shop = rng.choices(shops, SHOP_WEIGHTS)[0]
                spend(session, wallet, shop, 40, at(day, rng.randint(8, 17), rng.randint(0, 59)))
    session.commit()
    return Town(scheme, shops, tills, people)


def add_collusion(session: Session, town: Town) -> None:
    """One case for each rule; ``town.expected`` gets the flag each should raise."""
    scheme = town.scheme
    bakery, butcher, books, flowers = town.shops

    # A phone that collects eight times in a day at the bakery.
    greedy = wallets.create_wallet(session, scheme).wallet
    for i in range(8):
        sale(session, bakery, greedy, 1200, at(DAY, 9, 5 * i), town.tills[bakery.id])
    town.expected.add((Rule.WALLET_CLAIMS_AT_SHOP, "wallet", greedy.id))

    # A hairdresser whose points all go to two wallets: its own people.
    own = make_merchant(session, scheme, name="Kapsalon Eigen Kring", sector="96.021")
    pair = [wallets.create_wallet(session, scheme).wallet for _ in range(2)]
    for i in range(12):
        sale(session, own, pair[i % 2], 3000, at(DAY - timedelta(days=i // 2), 14, 10 * (i % 2)))
    town.expected.add((Rule.FEW_WALLETS, "merchant", own.id))

    # Points collected at the butcher's and spent there within minutes, three times.
    quick = wallets.create_wallet(session, scheme).wallet
    sale(session, butcher, quick, 15000, at(DAY - timedelta(days=3), 11), town.tills[butcher.id])
    for i in range(3):
        earn_at = at(DAY, 10 + 2 * i)
        sale(session, butcher, quick, 2000, earn_at, town.tills[butcher.id])
        spend(session, quick, butcher, 20, earn_at + timedelta(minutes=3))
    town.expected.add((Rule.REDEEM_AFTER_EARN, "wallet", quick.id))

    # The bookshop's till makes ninety sales in a day that nobody collects.
    for i in range(90):
        claims.create_claim(
            session,
            books,
            1000,
            at(DAY, 10) + timedelta(minutes=4 * i),
            till_key_id=town.tills[books.id],
        )
    town.expected.add((Rule.TILL_VELOCITY, "till_key", town.tills[books.id]))

    # The florist gives a tenth of the points but takes in far more than its share:
    # ten wallets charged up at the bakery spend everything at the florist's.
    for n in range(10):
        mule = wallets.create_wallet(session, scheme).wallet
        sale(session, bakery, mule, 30000, at(DAY - timedelta(days=6), 9, n), town.tills[bakery.id])
        for i in range(3):
            spend(session, mule, flowers, 100, at(DAY - timedelta(days=4 - i), 15, n))
    town.expected.add((Rule.REDEMPTION_SHARE, "merchant", flowers.id))
    session.commit()
