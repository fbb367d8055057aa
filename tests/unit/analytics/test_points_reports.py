"""The points economy and the points flow, from the ledger, against sums kept by hand."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from loyalty.analytics import catalog
from loyalty.analytics.periods import Period
from loyalty.earning import claims
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme

SEPTEMBER = Period(date(2026, 9, 1), date(2026, 9, 30))


def test_points_issued_redeemed_outstanding_and_their_flow(session: Session) -> None:
    rng = random.Random(5)
    scheme = make_scheme(session)
    scheme.k_anonymity = 2
    bakeries = [make_merchant(session, scheme, sector="47.24") for _ in range(3)]
    bookshops = [make_merchant(session, scheme, sector="47.61") for _ in range(3)]
    issued = redeemed = 0
    earned_by: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    flow: dict[str, float] = defaultdict(float)
    start = datetime(2026, 9, 2, 9, 0, tzinfo=UTC)
    for i in range(12):
        wallet = wallets.create_wallet(session, scheme).wallet
        at = start + timedelta(days=i)
        for shop in (rng.choice(bakeries), rng.choice(bookshops)):
            new = claims.create_claim(session, shop, rng.randint(3000, 9000), at)
            result = claims.claim_points(session, new.token, wallet, at + timedelta(seconds=20))
            issued += result.points_credited
            # Flows are between sector groups (47.24 bakeries -> 47.2 food shops).
            earned_by[wallet.id][shop.sector[:4]] += result.points_credited
        if i % 2 == 0:  # half of them spend 40 points at a bakery
            held = redemptions.create_redemption(session, wallet, 40, at + timedelta(minutes=5))
            redemptions.confirm_redemption(session, held.code, bakeries[i % 3],
                                           at + timedelta(minutes=6))
            redeemed += 40
            whole = sum(earned_by[wallet.id].values())
            for sector, points in earned_by[wallet.id].items():
                flow[f"{sector}>47.2"] += 40 * points / whole
    session.commit()

    report = catalog.build(session, scheme, "points", SEPTEMBER, "en")
    rows = {c.key: c for c in report.rows}
    assert rows["earn"].points == issued and rows["earn"].shoppers == 12
    assert rows["redeem"].points == redeemed and rows["redeem"].shoppers == 6
    assert rows["earn"].amount_cents == issued * scheme.point_value_cents
    assert rows["outstanding"].points == issued - redeemed
    assert rows["outstanding"].amount_cents == (issued - redeemed) * scheme.point_value_cents
    # Nothing happened in August: no wallets, so nothing to show.
    assert report.previous["earn"].suppressed and report.previous["earn"].points is None

    flows = catalog.build(session, scheme, "points-flow", SEPTEMBER, "en")
    got = {c.key: c.points for c in flows.rows}
    assert got == {key: round(value) for key, value in flow.items()}
