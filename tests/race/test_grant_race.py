"""A grant's budget raced by 50 wallets claiming at once against the live server,
and one wallet claiming the same grant five times at once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import EuroCredit, Grant, Scheme
from loyalty.money import euros, grants, ledger
from tests.conftest import LiveServer, count
from tests.factories import bearer, make_scheme, make_wallet_token
from tests.race.helpers import post, race, wallet_of

CLAIMS = 50


def _grant(db: Session, amount_cents: int, budget_cents: int) -> int:
    scheme = make_scheme(db)
    now = utcnow()
    grant = grants.create_grant(
        db, scheme, name="Race", amount_cents=amount_cents, budget_cents=budget_cents,
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(days=1),
        who="anyone", now=now,
    )
    db.commit()
    return grant.id


def test_fifty_wallets_race_for_a_grant_with_budget_for_twenty(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    grant_id = _grant(db, amount_cents=1000, budget_cents=20_000)  # 20 claims
    grant = db.get_one(Grant, grant_id)
    scheme = db.get_one(Scheme, grant.scheme_id)
    tokens = [make_wallet_token(db, scheme) for _ in range(CLAIMS)]
    wallets_ = [wallet_of(db, t) for t in tokens]
    db.commit()

    answers = race([
        post(live_server.api(f"/grants/{grant_id}/claim"), bearer(token)) for token in tokens
    ])

    assert Counter(a.status for a in answers) == {200: 20, 409: CLAIMS - 20}, answers
    assert {a.error_code for a in answers if a.status == 409} == {"budget_spent"}
    db.expire_all()
    assert Counter(euros.balance(db, w) for w in wallets_) == {1000: 20, 0: CLAIMS - 20}
    figures = grants.figures(db, grant)
    assert (figures.granted_cents, figures.remaining_cents, figures.claims) == (20_000, 0, 20)
    assert count(db, sa.select(EuroCredit.id).where(EuroCredit.grant_id == grant_id)) == 20
    assert ledger.town_euro_flows(db, scheme.id)["held"] == 20_000
    db.commit()
    verify_ledger()


def test_one_wallet_claiming_five_times_at_once_is_credited_once(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    grant_id = _grant(db, amount_cents=500, budget_cents=10_000)
    scheme = db.get_one(Scheme, db.get_one(Grant, grant_id).scheme_id)
    token = make_wallet_token(db, scheme)
    wallet = wallet_of(db, token)
    db.commit()

    answers = race([
        post(live_server.api(f"/grants/{grant_id}/claim"), bearer(token)) for _ in range(5)
    ])

    assert Counter(a.status for a in answers) == {200: 1, 409: 4}, answers
    assert {a.error_code for a in answers if a.status == 409} == {"already_claimed"}
    db.expire_all()
    assert euros.balance(db, wallet) == 500
    db.commit()
    verify_ledger()


def test_two_wallets_using_one_code_at_once_get_one_credit(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db)
    now = utcnow()
    grant = grants.create_grant(
        db, scheme, name="Codes", amount_cents=700, budget_cents=7_000,
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(days=1), who="code",
        now=now,
    )
    [code] = grants.issue_codes(db, grant, 1, now, issued_by=None)
    tokens = [make_wallet_token(db, scheme) for _ in range(2)]
    wallets_ = [wallet_of(db, t) for t in tokens]
    db.commit()

    answers = race([
        post(live_server.api(f"/grants/{grant.id}/claim"), bearer(token), {"code": code})
        for token in tokens
    ])

    assert Counter(a.status for a in answers) == {200: 1, 409: 1}, answers
    assert {a.error_code for a in answers if a.status == 409} == {"code_used"}
    db.expire_all()
    assert sorted(euros.balance(db, w) for w in wallets_) == [0, 700]
    assert grants.code_counts(db, grant) == (1, 1)
    assert grants.figures(db, grant).claims == 1
    db.commit()
    verify_ledger()
