"""The Sint-Gillis-Waas demo network: shops, staff and a year of history."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from schwifty import IBAN
from sqlalchemy.orm import Session

from lokaal_sparen.demo import year as demo_year
from loyalty.access import staff, totp
from loyalty.analytics import footfall
from loyalty.earning import campaigns, claims, corrections
from loyalty.models import (
    Claim,
    ClaimStatus,
    FraudFlag,
    Merchant,
    MerchantStatus,
    Role,
    Scheme,
    StaffUser,
    Wallet,
)
from loyalty.money.settlement import bank_accounts, monthly, periods
from loyalty.oversight import fraud
from loyalty.shoppers import wallets
from loyalty.shops import onboarding
from loyalty.spending import redemptions
from loyalty.town import clusters, schemes

SLUG = "sint-gillis-waas"
VILLAGES = ["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"]
DEMO_PASSWORD = "lokaal-sparen-demo"  # noqa: S105  (the demo prints it on purpose)
# The authenticator key of the demo's admins and shop owners, printed like the
# password: with a random key nobody could sign in to a demo they did not load.
DEMO_TOTP_SECRET = "LOKAALSPARENDEMOLOKAALSPARENDEMO"  # noqa: S105
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
# Opening hours as the shops write them on their doors (the directory shows them
# in the reader's language); the simulated sales keep to them.
HOURS = {
    "47.24": "di-za 6:30-18:00, zo 7:00-12:30",
    "47.22": "di-vr 8:00-18:00, za 8:00-16:00",
    "47.11": "ma-za 8:00-19:00, zo 8:00-12:00",
    "56.102": "wo-zo 11:30-13:30 en 17:00-21:30",
    "56.301": "wo-ma 10:00-23:00",
    "56.101": "do-ma 12:00-14:00 en 18:00-21:30",
    "47.73": "ma-vr 8:30-12:30 en 13:30-18:30, za 9:00-12:00",
    "96.021": "di-vr 9:00-18:00, za 8:00-15:00",
}
DEFAULT_HOURS = "ma-za 9:30-18:00"
# How much trade a shop does against the town's average: the supermarket and the
# main bakery are busy, the optician and the bike shop sell now and then.
SIZES = {
    "Superette Sint-Pauwels": 3.0, "Bakkerij De Smet": 2.2, "Apotheek Meerdonk": 1.6,
    "Frituur 't Pleintje": 1.5, "Slagerij Van Hoeylandt": 1.4, "Café De Zwaan": 1.2,
    "Chocolaterie Reynaert": 0.7, "Beenhouwerij Meerdonk": 0.8, "Drogisterij De Klinge": 0.6,
    "Speelgoed Kadootje": 0.6, "Wijnhandel De Kelder": 0.5, "Bloemen Margriet": 0.6,
    "Fietsen De Klinge": 0.5, "Optiek Waasland": 0.4, "Schoenen Verstraeten": 0.6,
}
# The municipality's own services: they accept points and credit, are never paid
# out, and have no simulated sales (they give no points).
TOWN_SERVICES = [
    ("Bibliotheek Sint-Gillis-Waas", "91.011", "Kerkstraat 2", "Sint-Gillis-Waas",
     "di-vr 14:00-19:00, za 9:00-12:00"),
    ("Zwembad Sint-Gillis-Waas", "93.110", "Sportlaan 1", "Sint-Gillis-Waas",
     "ma-vr 7:00-21:00, za-zo 9:00-18:00"),
]
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


def _second_friday_of_december(year: int) -> date:
    first = date(year, 12, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 7)


def _pentecost(year: int) -> date:
    """Easter (anonymous Gregorian algorithm) plus 49 days."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    h = (19 * a + b - d - (b - (b + 8) // 25 + 1) // 3 + 15) % 30
    i, k = c // 4, c % 4
    lw = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * lw) // 451
    month = (h + lw - 7 * m + 114) // 31
    day = (h + lw - 7 * m + 114) % 31 + 1
    return date(year, month, day) + timedelta(days=49)


def _latest(candidates: list[tuple[date, date]], first: date, today: date) -> tuple[date, date]:
    """The latest period that has ended and has six weeks of history before it."""
    fitting = [
        (a, b) for a, b in candidates if b < today and a >= first + timedelta(weeks=6)
    ]
    return max(fitting)


# The town's shopping clusters: the centre's streets, and each village's core. The
# shops on the industrial estate belong to none.
CLUSTERS = {
    "Centrum Sint-Gillis": ("Kerkstraat", "Stationsstraat", "Markt"),
    "Klingedorp": ("Klingedorp", "Kerkplein"),
    "Dorpskern Meerdonk": ("Dorpsstraat", "Polderstraat"),
    "Dorpskern Sint-Pauwels": ("Kapelstraat", "Pastorijstraat", "Oude Molenstraat",
                               "Hofstraat"),
}
# Pedestrian counters the town rents in the centre, with their busiest hour's count.
COUNTERS = {"Markt": 520, "Stationsstraat": 310}
# Passers-by through the day, as a share of the busiest hour (7:00 to 19:00).
FOOTFALL_HOURS = [0.15, 0.3, 0.5, 0.7, 0.9, 1.0, 0.95, 0.8, 0.85, 0.9, 0.75, 0.45, 0.25]
FOOTFALL_DAYS = 120


def _clusters_and_footfall(session: Session, scheme: Scheme, merchants: list[Merchant],
                           first: date, *, end: datetime, rng: random.Random) -> None:
    """The clusters with their shops (and every shop's village), and the last months'
    hourly counts of the centre's two counters."""
    made = {name: clusters.create_cluster(session, scheme, None, name) for name in CLUSTERS}
    placements = {}
    for merchant, (_name, _sector, street, village, _typical) in zip(merchants, SHOPS,
                                                                     strict=True):
        cluster = next((made[name].id for name, streets in CLUSTERS.items()
                        if street.rsplit(" ", 1)[0] in streets), None)
        placements[merchant.id] = clusters.Placement(village, cluster)
    clusters.place_shops(session, scheme, None, placements)
    zone = ZoneInfo(scheme.timezone)
    counts: dict[tuple[str, datetime], int] = {}
    today = end.astimezone(zone).date()
    for back in range(FOOTFALL_DAYS, 0, -1):
        day = today - timedelta(days=back)
        if day < first:
            continue
        weekday = 1.25 if day.weekday() == 5 else 0.35 if day.weekday() == 6 else 1.0
        for name, busiest in COUNTERS.items():
            for offset, share in enumerate(FOOTFALL_HOURS):
                hour = datetime.combine(day, time(7 + offset), zone).astimezone(UTC)
                counts[(name, hour)] = int(busiest * share * weekday * rng.uniform(0.85, 1.15))
    footfall.store(session, scheme, counts)
    centre = made["Centrum Sint-Gillis"].id
    clusters.assign_counters(session, scheme, None, {
        counter.id: centre for counter in footfall.counters(session, scheme.id)})


def load_demo(
    session: Session,
    now: datetime,
    *,
    days: int = 420,
    recent_days: int = 3,
    n_wallets: int = 1200,
    seed: int = 9170,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoSummary:
    """Create the Sint-Gillis-Waas scheme with shops, staff and ``days`` of activity.

    Older days are written in bulk (lokaal_sparen.demo.year), the last ``recent_days``
    through the domain functions, so the live earn, campaign and spend paths run
    too. Marked on the calendar: the last Kerstmarkt and Sinksenfeesten (which
    the simulated town notices) and the next Kerstmarkt. Campaigns: one that
    ended (double points in the specialised shops, which sold about a quarter more while it
    ran) and one running now.
    """
    rng = random.Random(seed)
    report = progress or (lambda _stage, _done, _total: None)
    scheme: Scheme = schemes.create_scheme(
        session, SLUG, "Sint-Gillis-Waas", nis_code="46020", villages=VILLAGES
    )
    # Example bank accounts (valid check digits, nobody's account): the
    # dashboard's settlement makes a real SEPA file from them.
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "GKCCBEBB")
    zone = ZoneInfo(scheme.timezone)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days)

    def utc(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)

    logins: list[tuple[str, str]] = []

    def user(role: Role, email: str, merchant: object = None) -> None:
        created = staff.create_user(
            session, scheme, email=email, password=DEMO_PASSWORD, role=role,
            merchant=merchant,  # type: ignore[arg-type]
        )
        if role in totp.REQUIRED_ROLES:
            totp.enrol(session, created, now, secret=DEMO_TOTP_SECRET)
        logins.append((str(role), email))

    user(Role.MUNICIPALITY_ADMIN, "admin@sint-gillis-waas.example")
    user(Role.MUNICIPALITY_ANALYST, "analist@sint-gillis-waas.example")
    admin = session.scalars(
        sa.select(StaffUser).where(StaffUser.email == "admin@sint-gillis-waas.example")
    ).one()
    merchants = []
    for i, (name, sector, street, village, _typical) in enumerate(SHOPS, start=1):
        domain = slugify(name) + ".example"
        merchant = schemes.create_merchant(
            session, scheme, name=name, sector=sector, postcode="9170",
            email=f"info@{domain}", address=f"{street}, 9170 {village}",
        )
        # Approved by the municipality when the scheme started (the audit log says so).
        onboarding.decide(session, merchant, MerchantStatus.APPROVED, admin,
                          now=utc(first) + timedelta(hours=9, minutes=i))
        merchant.opening_hours = HOURS.get(sector, DEFAULT_HOURS)
        if i % 7:  # a few shops have not given their bank account yet
            account = IBAN.generate("BE", bank_code="001", account_code=f"{9170000 + i:07d}")
            bank_accounts.set_merchant_bank_account(
                session, merchant, str(account), "GEBABEBB", name
            )
        merchants.append(merchant)
        # Logins for the first shops only: a password hash costs time.
        if i <= 3:
            user(Role.MERCHANT_OWNER, f"eigenaar@{domain}", merchant)
            user(Role.CASHIER, f"kassa@{domain}", merchant)
        report("shops", i, len(SHOPS))
    for j, (name, sector, street, village, hours) in enumerate(TOWN_SERVICES, start=1):
        service = schemes.create_merchant(
            session, scheme, name=name, sector=sector, postcode="9170",
            email=f"info@{slugify(name)}.example", address=f"{street}, 9170 {village}",
        )
        onboarding.decide(session, service, MerchantStatus.APPROVED, admin,
                          now=utc(first) + timedelta(hours=10, minutes=j))
        onboarding.set_town_service(session, service, True, admin,
                                    now=utc(first) + timedelta(hours=10, minutes=j))
        service.opening_hours = hours
    name, sector, street, village, _typical = PENDING_SHOP
    schemes.create_merchant(
        session, scheme, name=name, sector=sector, postcode="9170",
        email=f"info@{slugify(name)}.example", address=f"{street}, 9170 {village}",
    )
    session.flush()
    # Its own random numbers: the rest of the demo stays as it was.
    _clusters_and_footfall(session, scheme, merchants, first, end=now,
                           rng=random.Random(seed + 1))

    # Shoppers: six in ten share their village (or postcode elsewhere) and age band.
    profiles: list[dict[str, object]] = []
    for _ in range(n_wallets):
        profile: dict[str, object] = {}
        if rng.random() < 0.6:
            postcode = "9170" if rng.random() < 0.85 else rng.choice(
                ["9100", "9120", "9190", "9160"]
            )
            profile = {
                "home_postcode": postcode,
                "home_village": rng.choices(VILLAGES, weights=[50, 15, 15, 20])[0]
                if postcode == "9170" else None,
                "age_band": rng.choice(AGE_BANDS),
            }
        profiles.append(profile)
    wallet_ids = demo_year.create_wallets(session, scheme, profiles, utc(first))
    # The sizes share out the town's trade; they do not add to it (a year stays
    # about 40,000 sales, loaded in seconds).
    usual = [demo_year.spec(sector, typical).per_day for _n, sector, _s, _v, typical in SHOPS]
    scale = sum(usual) / sum(u * SIZES.get(shop[0], 1.0) for u, shop in zip(usual, SHOPS,
                                                                          strict=True))
    shops = [
        demo_year.spec(sector, typical, SIZES.get(name, 1.0) * scale,
                       HOURS.get(sector, DEFAULT_HOURS))
        for name, sector, _s, _v, typical in SHOPS
    ]
    plan = demo_year.make_plan(rng, shops, n_wallets, (first, today))

    # The calendar: the town's two big events, and the next Christmas market.
    years = range(first.year, today.year + 1)
    markets = [(f, f + timedelta(days=2)) for f in map(_second_friday_of_december, years)]
    kerstmarkt = _latest(markets, first, today)
    feesten = _latest(
        [(p - timedelta(days=1), p + timedelta(days=1)) for p in map(_pentecost, years)],
        first, today,
    )
    # This year's market until it is over (loaded on 5 December, the market of
    # 11-13 December is the next one, not next year's).
    upcoming = _second_friday_of_december(today.year)
    if upcoming + timedelta(days=2) < today:
        upcoming = _second_friday_of_december(today.year + 1)
    for title, (start, end) in [
        ("Kerstmarkt", kerstmarkt),
        ("Sinksenfeesten", feesten),
        ("Kerstmarkt", (upcoming, upcoming + timedelta(days=2))),
    ]:
        campaigns.create_event(session, scheme, name=title, starts_on=start, ends_on=end)

    # An ended campaign: three weeks of double points in the specialised food and
    # non-food shops (NACE 47.2 and 47.7)
    # from the first Monday of the latest October that is over.
    october = max(
        d for y in years
        if (d := date(y, 10, 1) + timedelta(days=(7 - date(y, 10, 1).weekday()) % 7))
        + timedelta(days=21) < today and d >= first + timedelta(weeks=6)
    )
    ended = campaigns.create_campaign(
        session, scheme, name="Dubbele punten bij de buurtwinkel",
        starts_at=utc(october), ends_at=utc(october + timedelta(days=21)),
        budget_cents=350_000, multiplier_pct=200, sectors_=["47.2", "47.7"],
        now=utc(october - timedelta(days=7)),
    )
    treated = {i for i, m in enumerate(merchants) if campaigns.covers(ended, m)}
    # And one running now: double points on leisure shopping (books, bikes, toys).
    campaigns.create_campaign(
        session, scheme, name="Winteractie: dubbele punten op vrije tijd",
        starts_at=utc(today - timedelta(days=2)), ends_at=utc(today + timedelta(days=26)),
        budget_cents=40_000, multiplier_pct=200, sectors_=["47.6"],
        now=utc(today - timedelta(days=3)),
    )

    centre = {i for i, shop in enumerate(SHOPS) if shop[3] == "Sint-Gillis-Waas"}

    def effect(day: date, shop: int) -> float:
        sector = SHOPS[shop][1]
        factor = 1.0
        if kerstmarkt[0] <= day <= kerstmarkt[1] and shop in centre:
            factor *= 1.6 if sector.startswith(("56.", "47.24")) else 1.25
        if feesten[0] <= day <= feesten[1] and sector.startswith("56."):
            factor *= 1.8
        if shop in treated and october <= day < october + timedelta(days=21):
            factor *= 1.25
        return factor

    planned = list(demo_year.plan_sales(rng, plan, first, today - timedelta(days=1), effect))
    bulk, recent = planned[:-recent_days], planned[-recent_days:]
    balances: dict[int, int] = {}
    written = demo_year.write_bulk(
        session, scheme, merchants, wallet_ids, bulk, balances, rng, report
    )
    earns, spends = written.earns, written.spends

    # The last days through the domain functions: claims, campaign bonus, spends.
    # One anomaly among them: a wallet that collects at the chip shop again and
    # again on one day (a till handing its own codes to one phone); the daily
    # fraud check below flags it.
    anomaly_day = recent[0][0]
    chip_shop = next(i for i, shop in enumerate(SHOPS) if shop[1] == "56.102")
    recent[0] = (anomaly_day, sorted(
        recent[0][1] + [
            demo_year.Sale(datetime.combine(anomaly_day, time(18, 5 + 6 * n)), chip_shop, 7,
                           1250 + 100 * n)
            for n in range(7)
        ],
        key=lambda sale: sale.at,
    ))
    for done, (_day, sales) in enumerate(recent, start=1):
        for sale in sales:
            merchant = merchants[sale.shop]
            wallet = session.get_one(Wallet, wallet_ids[sale.shopper])
            at = sale.at.replace(tzinfo=zone).astimezone(UTC)
            if sale.amount_cents < 100:
                continue
            new = claims.create_claim(session, merchant, sale.amount_cents, at)
            claims.collect(session, new.claim, wallet, at + timedelta(seconds=40))
            earns += 1
            spend = demo_year.spend_amount(rng, wallets.points_balance(session, wallet))
            if spend:
                spend_at = at + timedelta(minutes=rng.randint(3, 90))
                held = redemptions.create_redemption(session, wallet, spend, spend_at)
                redemptions.confirm_redemption(
                    session, held.code, merchant, spend_at + timedelta(seconds=30)
                )
                spends += 1
        report("last days", done, len(recent))
    _history(session, scheme, merchants, admin, today, utc, report, chip_shop)
    return DemoSummary(len(merchants) + len(TOWN_SERVICES) + 1, n_wallets, earns, spends, logins)


def _history(
    session: Session,
    scheme: Scheme,
    merchants: list[Merchant],
    admin: StaffUser,
    today: date,
    utc: Callable[[date], datetime],
    report: Callable[[str, int, int], None],
    chip_shop: int,
) -> None:
    """What a town's admin screens hold after a year: months settled (all but the
    last one, which the admin can try), the daily fraud checks of the last week
    with a flag dismissed, and a shop owner's correction of a mistyped sale."""
    due = monthly.next_period(session, scheme)
    last_month = monthly.month_of(scheme, utc(today.replace(day=1)) - timedelta(days=1))
    months = []
    while due is not None and due < last_month:
        months.append(due)
        due = monthly.month_after(due)
    for done, period in enumerate(months, start=1):
        _start, end = periods.period_bounds(scheme, period)
        monthly.settle(session, scheme, period, end + timedelta(days=1, hours=2), actor=admin)
        report("settled months", done, len(months))
    for back in range(7, 0, -1):
        day = today - timedelta(days=back)
        fraud.check(session, scheme, day, utc(day + timedelta(days=1)) + timedelta(hours=1))
    flags = session.scalars(
        sa.select(FraudFlag).where(FraudFlag.scheme_id == scheme.id).order_by(FraudFlag.id)
    ).all()
    # One flag looked into and dismissed; the chip shop's stays open for the admin.
    other = [flag for flag in flags if flag.merchant_id != merchants[chip_shop].id]
    if other:
        fraud.dismiss(session, other[0], admin, "Nagekeken met de zaak: een gezin dat samen "
                      "spaart.", utc(today) + timedelta(hours=8))
    # The bakery's owner took back a sale whose points went to the wrong phone.
    bakery = merchants[0]
    owner = session.scalars(
        sa.select(StaffUser).where(StaffUser.merchant_id == bakery.id,
                                   StaffUser.role == Role.MERCHANT_OWNER)
    ).first()
    sale = session.scalars(
        sa.select(Claim).where(Claim.merchant_id == bakery.id,
                               Claim.status == ClaimStatus.CLAIMED)
        .order_by(Claim.claimed_at.desc())
    ).first()
    if owner is not None and sale is not None and sale.claimed_at is not None:
        corrections.correct_sale(session, sale, bakery, owner,
                                 "De punten gingen naar de verkeerde klant.",
                                 sale.claimed_at + timedelta(minutes=20))
