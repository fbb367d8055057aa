"""The social tariff under concurrency: one entitlement code typed by two wallets at
once entitles one, and the monthly credit run several times at once credits each
entitled wallet once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import EuroCredit, Scheme, SocialCode
from loyalty.money import euros, ledger, social
from tests.conftest import LiveServer, count
from tests.factories import bearer, make_scheme, make_wallet_token
from tests.race.helpers import post, race, wallet_of

RUNS = 4
TIMEOUT = 60


def test_one_entitlement_code_typed_by_two_wallets_entitles_one(
    live_server: LiveServer, db: Session
) -> None:
    scheme = make_scheme(db)
    today = utcnow().date()
    [code] = social.issue_codes(db, scheme, 1, today + timedelta(days=90), by=None,
                                today=today, now=utcnow())
    tokens = [make_wallet_token(db, scheme) for _ in range(2)]
    wallets_ = [wallet_of(db, t) for t in tokens]
    db.commit()

    answers = race([
        post(live_server.api("/wallet/social-tariff"), bearer(token), {"code": code})
        for token in tokens
    ])

    assert Counter(a.status for a in answers) == {200: 1, 409: 1}, answers
    assert {a.error_code for a in answers if a.status == 409} == {"code_used"}
    db.expire_all()
    entitled = [social.entitled_until(db, w.id, today) for w in wallets_]
    assert sorted(entitled, key=str) == sorted([None, today + timedelta(days=90)], key=str)
    assert count(db, sa.select(SocialCode.id).where(
        SocialCode.scheme_id == scheme.id, SocialCode.used_by.is_not(None))) == 1


def test_the_monthly_credit_run_several_times_at_once_credits_each_wallet_once(
    app: Flask, db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db, social_monthly_cents=2500)
    now = utcnow()
    today = now.date()
    social.fund(db, scheme, 100_000, by=None, now=now)
    issued = social.issue_codes(db, scheme, 5, today + timedelta(days=60), by=None,
                                today=today, now=now)
    entitled = []
    for code in issued:
        wallet = wallet_of(db, make_wallet_token(db, scheme))
        social.enter_code(db, wallet, code, today, now)
        entitled.append(wallet)
    db.commit()
    scheme_id = scheme.id
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(RUNS, timeout=TIMEOUT)

    def run(_n: int) -> int:
        barrier.wait()
        with factory() as s, s.begin():
            return social.credit_month(s, s.get_one(Scheme, scheme_id), today, today,
                                       utcnow()).credited

    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        credited = list(pool.map(run, range(RUNS), timeout=TIMEOUT))

    assert sum(credited) == 5, credited
    db.expire_all()
    assert [euros.balance(db, w) for w in entitled] == [2500] * 5
    month = date(today.year, today.month, 1)
    assert count(db, sa.select(EuroCredit.id).where(
        EuroCredit.social_month == month,
        EuroCredit.wallet_id.in_([w.id for w in entitled]))) == 5
    assert ledger.balance(db, social.budget_account(db, scheme_id).id) == 100_000 - 5 * 2500
    db.commit()
    verify_ledger()
