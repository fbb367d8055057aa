"""The Sint-Gillis-Waas demo network: shops, staff and some weeks of history."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from schwifty import IBAN
from sqlalchemy.orm import Session

from loyalty import claims, redemptions, schemes, settlement, staff, wallets
from loyalty.models import MerchantStatus, Role, Scheme

SLUG = "sint-gillis-waas"
VILLAGES = ["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"]
DEMO_PASSWORD = "lokaal-sparen-demo"  # noqa: S105  (the demo prints it on purpose)
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]

# name, NACE-BEL code, street address, village, typical sale in euro
SHOPS: list[tuple[str, str, str, str, int]] = [
    ("Bakkerij De Smet", "47.24", "Kerkstraat 12", "Sint-Gillis-Waas", 9),
    ("Slagerij Van Hoeylandt", "47.22", "Stationsstraat 45", "Sint-Gillis-Waas", 24),
    ("Frituur 't Pleintje", "56.102", "Markt 3", "Sint-Gillis-Waas", 16),
    ("Café De Zwaan", "56.301", "Markt 8", "Sint-Gillis-Waas", 14),
    ("Apotheek Meerdonk", "47.73", "Dorpsstraat 21", "Meerdonk", 22),
    ("Boekhandel Het Leesrijk", "47.61", "Kerkstraat 30", "Sint-Gillis-Waas", 27),
    ("Kledingzaak Lien", "47.71", "Stationsstraat 9", "Sint-Gillis-Waas", 68),
    ("Schoenen Verstraeten", "47.721", "Kapelstraat 14", "Sint-Pauwels", 85),
    ("Bloemen Margriet", "47.76", "Kerkplein 2", "De Klinge", 21),
    ("Fietsen De Klinge", "47.64", "Klingedorp 40", "De Klinge", 120),
    ("Kapsalon Nathalie", "96.021", "Polderstraat 7", "Meerdonk", 35),
    ("Optiek Waasland", "47.782", "Stationsstraat 60", "Sint-Gillis-Waas", 140),
    ("Superette Sint-Pauwels", "47.11", "Pastorijstraat 5", "Sint-Pauwels", 31),
    ("Beenhouwerij Meerdonk", "47.22", "Dorpsstraat 4", "Meerdonk", 19),
    ("Doe-het-zelf Baeten", "47.52", "Industrielaan 11", "Sint-Gillis-Waas", 44),
    ("Speelgoed Kadootje", "47.65", "Kerkstraat 51", "Sint-Gillis-Waas", 29),
    ("Wijnhandel De Kelder", "47.25", "Oude Molenstraat 3", "Sint-Pauwels", 52),
    ("Chocolaterie Reynaert", "47.24", "Markt 15", "Sint-Gillis-Waas", 18),
    ("Restaurant Het Hof", "56.101", "Hofstraat 1", "Sint-Pauwels", 74),
    ("Drogisterij De Klinge", "47.75", "Klingedorp 12", "De Klinge", 17),
]
HOURS = {
    "47.24": "di-za 6:30-18:00, zo 7:00-12:30",
    "47.22": "di-vr 8:00-18:00, za 8:00-16:00",
    "56.102": "wo-zo 11:30-13:30 en 17:00-21:30",
    "56.301": "elke dag vanaf 10:00, di gesloten",
    "56.101": "do-ma 12:00-14:00 en 18:00-21:30",
    "47.73": "ma-vr 8:30-12:30 en 13:30-18:30, za 9:00-12:00",
    "96.021": "di-vr 9:00-18:00, za 8:00-15:00 (op afspraak)",
}
DEFAULT_HOURS = "ma-za 9:30-18:00"
PENDING_SHOP = ("Koffiebar Bonen & Co", "56.301", "Stationsstraat 2", "Sint-Gillis-Waas", 8)


@dataclass(frozen=True)
class DemoSummary:
    shops: int
    wallets: int
    earns: int
    spends: int
    logins: list[tuple[str, str]]  # (role, e-mail); all share DEMO_PASSWORD


def slugify(name: str) -> str:
    keep = "".join(ch.lower() if ch.isalnum() else "-" for ch in name)
    return "-".join(part for part in keep.split("-") if part)


def load_demo(
    session: Session,
    now: datetime,
    *,
    days: int = 60,
    n_wallets: int = 150,
    seed: int = 9170,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoSummary:
    """Create the Sint-Gillis-Waas scheme with shops, staff and ``days`` of activity."""
    rng = random.Random(seed)
    report = progress or (lambda _stage, _done, _total: None)
    scheme: Scheme = schemes.create_scheme(
        session, SLUG, "Sint-Gillis-Waas", nis_code="46020", villages=VILLAGES
    )
    # Example bank accounts (valid check digits, nobody's account): the
    # dashboard's settlement makes a real SEPA file from them.
    settlement.set_scheme_bank_account(session, scheme, "BE71096123456769", "GKCCBEBB")
    logins: list[tuple[str, str]] = []

    def user(role: Role, email: str, merchant: object = None) -> None:
        staff.create_user(
            session, scheme, email=email, password=DEMO_PASSWORD, role=role,
            merchant=merchant,  # type: ignore[arg-type]
        )
        logins.append((str(role), email))

    user(Role.MUNICIPALITY_ADMIN, "admin@sint-gillis-waas.example")
    user(Role.MUNICIPALITY_ANALYST, "analist@sint-gillis-waas.example")
    merchants = []
    for i, (name, sector, street, village, _typical) in enumerate(SHOPS, start=1):
        domain = slugify(name) + ".example"
        merchant = schemes.create_merchant(
            session, scheme, name=name, sector=sector, postcode="9170",
            email=f"info@{domain}", address=f"{street}, 9170 {village}",
            status=MerchantStatus.APPROVED,
        )
        merchant.opening_hours = HOURS.get(sector, DEFAULT_HOURS)
        if i % 7:  # a few shops have not given their bank account yet
            account = IBAN.generate("BE", bank_code="001", account_code=f"{9170000 + i:07d}")
            settlement.set_merchant_bank_account(session, merchant, str(account), "GEBABEBB", name)
        merchants.append(merchant)
        # Logins for the first shops only: a password hash costs time.
        if i <= 3:
            user(Role.MERCHANT_OWNER, f"eigenaar@{domain}", merchant)
            user(Role.CASHIER, f"kassa@{domain}", merchant)
        report("shops", i, len(SHOPS))
    name, sector, street, village, _typical = PENDING_SHOP
    schemes.create_merchant(
        session, scheme, name=name, sector=sector, postcode="9170",
        email=f"info@{slugify(name)}.example", address=f"{street}, 9170 {village}",
    )

    shoppers = []
    for _ in range(n_wallets):
        wallet = wallets.create_wallet(session, scheme).wallet
        if rng.random() < 0.6:
            wallet.stats_consent = True
            wallet.home_postcode = "9170" if rng.random() < 0.85 else rng.choice(
                ["9100", "9120", "9190", "9160"]
            )
            if wallet.home_postcode == "9170":
                wallet.home_village = rng.choices(VILLAGES, weights=[50, 15, 15, 20])[0]
            wallet.age_band = rng.choice(AGE_BANDS)
        # Some shoppers are loyal to a few shops; that is what makes reports interesting.
        favourites = rng.sample(range(len(merchants)), k=rng.randint(2, 6))
        shoppers.append((wallet, favourites))

    earns = spends = 0
    start = now - timedelta(days=days)
    for day in range(days):
        date0 = start + timedelta(days=day)
        weekday = date0.weekday()
        if weekday == 6:  # most shops are closed on Sunday
            continue
        busy = 1.6 if weekday == 5 else 1.0  # Saturday peak
        for wallet, favourites in shoppers:
            if rng.random() > 0.09 * busy:
                continue
            shop_index = rng.choice(favourites)
            merchant = merchants[shop_index]
            typical = SHOPS[shop_index][4]
            amount = max(150, int(rng.gauss(typical, typical / 3) * 100))
            at = date0.replace(hour=rng.choice([9, 10, 10, 11, 11, 14, 15, 16, 16, 17]),
                               minute=rng.randint(0, 59))
            new = claims.create_claim(session, merchant, amount, at)
            claims.claim_points(session, new.token, wallet, at + timedelta(seconds=40))
            earns += 1
            balance = wallets.points_balance(session, wallet)
            if balance >= 100 and rng.random() < 0.15:
                spend_at = at + timedelta(minutes=5)
                held = redemptions.create_redemption(session, wallet, 100, spend_at)
                redemptions.confirm_redemption(
                    session, held.code, merchants[rng.choice(favourites)],
                    spend_at + timedelta(seconds=30),
                )
                spends += 1
        report("history", day + 1, days)
    return DemoSummary(len(merchants) + 1, n_wallets, earns, spends, logins)
