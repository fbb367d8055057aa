"""A campaign budget raced by 50 concurrent earns against the live server."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import campaigns
from loyalty.infra.db import utcnow
from loyalty.models import LedgerTransaction, PurchaseEvent
from tests.conftest import LiveServer, count
from tests.factories import bearer, make_scheme, make_shop, make_wallet_token
from tests.race.helpers import balance_of_wallet, open_claim, post, race, wallet_of

EARNS = 50


def test_fifty_earns_race_for_a_campaign_budget(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db)  # a point is worth 5 cents
    shop = make_shop(db, scheme)
    now = utcnow()
    # 7 bonus points a sale cost 35 cents: EUR 5.00 pays 14 bonuses and leaves 10 cents.
    campaign = campaigns.create_campaign(
        db, scheme, name="Race", starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(days=1), budget_cents=500, bonus_points=7, now=now,
    )
    db.commit()
    claims = [open_claim(db, shop.merchant, 1200) for _ in range(EARNS)]  # 12 points each
    tokens = [make_wallet_token(db, scheme) for _ in range(EARNS)]
    wallet_ids = [wallet_of(db, t).id for t in tokens]
    db.commit()

    answers = race([
        post(live_server.api(f"/claims/{claim_token}/claim"), bearer(wallet_token))
        for (claim_token, _), wallet_token in zip(claims, tokens, strict=True)
    ])

    # Every earn was credited its base points; exactly 14 also got the bonus.
    assert Counter(a.status for a in answers) == {200: EARNS}, answers
    assert Counter(a.body["points_credited"] for a in answers) == {19: 14, 12: EARNS - 14}
    balances = [balance_of_wallet(db, w, scheme.id) for w in wallet_ids]
    assert Counter(balances) == {19: 14, 12: EARNS - 14}

    figures = campaigns.figures(db, campaign, utcnow())
    assert (figures.spent_cents, figures.bonus_points_given) == (490, 98)
    assert figures.remaining_cents == 10  # never below zero, never more than paid out
    assert figures.status == campaigns.Status.BUDGET_SPENT
    assert count(db, sa.select(LedgerTransaction.id).where(
        LedgerTransaction.kind == "earn", LedgerTransaction.scheme_id == scheme.id
    )) == EARNS
    tagged = db.scalars(
        sa.select(PurchaseEvent.campaign_id).where(PurchaseEvent.scheme_id == scheme.id)
    ).all()
    assert Counter(tagged) == {campaign.id: 14, None: EARNS - 14}
    db.commit()
    verify_ledger()
