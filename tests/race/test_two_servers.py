"""Two app servers on one database: nothing but the database is shared, so the
races of tests/race/test_races.py come out the same when their requests are
split over two separate `loyalty serve` (two gunicorn masters, two workers
each), as behind a load balancer.

Both servers have the same PUBLIC_URL and SECRET_KEY (as every server of a site
must) and nothing else in common. The second also reads reports from the read
replica (DATABASE_REPLICA_URL; on SQLite a read-only connection to the file):
its writes must all reach the primary, also in a race.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from itertools import cycle
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import Claim, ClaimStatus, Redemption, RedemptionStatus, Role
from loyalty.spending import redemptions
from tests.conftest import LiveServer, Mailbox, serve
from tests.factories import (
    PASSWORD,
    bearer,
    make_scheme,
    make_shop,
    make_user,
    make_wallet_token,
    otp,
)
from tests.race.helpers import (
    TIMEOUT,
    Answer,
    answer,
    balance_of_wallet,
    funded_wallet,
    get,
    holds_balance,
    open_claim,
    post,
    race,
    redeemed_balance,
    transactions,
    wallet_of,
)

PUBLIC_URL = "http://sparen.example.test"  # one site, two servers behind it


@pytest.fixture(scope="module")
def servers(
    database_url: str,
    replica_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
) -> Iterator[tuple[LiveServer, LiveServer]]:
    mailbox = smtp_server[2]
    with (
        serve(database_url, tmp_path_factory, mailbox, {"PUBLIC_URL": PUBLIC_URL},
              workers=2) as first,
        serve(database_url, tmp_path_factory, mailbox,
              {"PUBLIC_URL": PUBLIC_URL, "DATABASE_REPLICA_URL": replica_url},
              workers=2) as second,
    ):
        yield first, second


def test_one_wallet_spends_its_points_at_two_servers_at_once(
    servers: tuple[LiveServer, LiveServer], db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    scheme_id = shop.scheme.id
    token = funded_wallet(db, shop.scheme, shop.merchant, 300)
    wallet_id = wallet_of(db, token).id
    db.commit()

    # 30 spend codes of 100 points asked for at once, half at each server: 3 fit.
    at = cycle(servers)
    answers = race([post(next(at).api("/wallet/redemptions"), bearer(token), {"points": 100})
                    for _ in range(30)])

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 3, 409: 27}, answers
    assert {a.error_code for a in answers if a.status == 409} == {"insufficient_balance"}
    held = db.scalars(sa.select(Redemption).where(Redemption.wallet_id == wallet_id)).all()
    assert {(r.status, r.points) for r in held} == {(RedemptionStatus.HELD, 100)}
    assert len(held) == 3
    assert balance_of_wallet(db, wallet_id, scheme_id) == 0
    assert holds_balance(db, scheme_id) == 300
    db.commit()
    verify_ledger()


def test_one_spend_code_confirmed_at_both_servers_is_taken_once(
    servers: tuple[LiveServer, LiveServer], db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db)
    shops = [make_shop(db, scheme), make_shop(db, scheme)]
    merchant_ids = [s.merchant.id for s in shops]
    rounds = 10
    token = funded_wallet(db, scheme, shops[0].merchant, rounds * (rounds + 1) // 2)
    wallet = wallet_of(db, token)
    codes = [redemptions.create_redemption(db, wallet, points, utcnow()).code
             for points in range(1, rounds + 1)]
    db.commit()

    won_by: dict[str, int] = {}
    for code in codes:
        # Each shop's till sends the code to both servers: four confirms at once.
        tries = [(i, server) for i in range(2) for server in servers]
        answers = race([post(server.api(f"/redemptions/{code}/confirm"), shops[i].headers)
                        for i, server in tries])
        assert sorted(a.status for a in answers) == [200, 409, 409, 409], (code, answers)
        assert {a.error_code for a in answers if a.status == 409} == {"already_used"}
        won_by[code] = merchant_ids[next(i for (i, _), a in zip(tries, answers, strict=True)
                                         if a.status == 200)]

    expected = dict.fromkeys(merchant_ids, 0)
    for r in db.scalars(sa.select(Redemption).where(Redemption.code.in_(codes))).all():
        assert r.status == RedemptionStatus.CONFIRMED and r.merchant_id == won_by[r.code]
        assert transactions(db, "redeem", f"redemption #{r.id}") == 1
        expected[won_by[r.code]] += r.points
    for merchant_id, points in expected.items():
        assert redeemed_balance(db, scheme.id, merchant_id) == points
    assert sum(expected.values()) == 55
    assert holds_balance(db, scheme.id) == 0
    assert balance_of_wallet(db, wallet.id, scheme.id) == 0
    db.commit()
    verify_ledger()


def test_one_claim_collected_through_both_servers_is_credited_once(
    servers: tuple[LiveServer, LiveServer], db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    token, claim_id = open_claim(db, shop.merchant, 4250)  # 42 points
    wallet_tokens = [make_wallet_token(db, shop.scheme) for _ in range(20)]
    wallet_ids = [wallet_of(db, t).id for t in wallet_tokens]
    db.commit()

    at = cycle(servers)
    answers = race([post(next(at).api(f"/claims/{token}/claim"), bearer(t))
                    for t in wallet_tokens])

    assert Counter(a.status for a in answers) == {200: 1, 409: 19}, answers
    winner = next(i for i, a in enumerate(answers) if a.status == 200)
    claim = db.get_one(Claim, claim_id)
    db.refresh(claim)
    assert claim.status == ClaimStatus.CLAIMED and claim.wallet_id == wallet_ids[winner]
    assert transactions(db, "earn", f"claim #{claim_id}") == 1
    assert [balance_of_wallet(db, w, shop.scheme.id) for w in wallet_ids].count(42) == 1
    assert sum(balance_of_wallet(db, w, shop.scheme.id) for w in wallet_ids) == 42
    db.commit()
    verify_ledger()


def test_a_retry_at_the_other_server_replays_the_first_answer(
    servers: tuple[LiveServer, LiveServer], db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    merchant_id = shop.merchant.id
    db.commit()
    headers = {**shop.headers, "Idempotency-Key": f"sale-{uuid.uuid4()}"}
    at = cycle(servers)
    answers = race([post(next(at).api("/claims"), headers, {"amount_cents": 1999})
                    for _ in range(10)])
    assert [a.status for a in answers] == [201] * 10, answers
    assert all(a.body == answers[0].body for a in answers), answers
    assert sum(not a.replayed for a in answers) == 1, answers
    made = db.scalars(sa.select(Claim).where(Claim.merchant_id == merchant_id)).all()
    assert len(made) == 1 and made[0].amount_cents == 1999
    db.commit()
    verify_ledger()


def test_sign_in_and_the_spend_code_throttle_live_in_the_database(
    servers: tuple[LiveServer, LiveServer], db: Session, app: Any
) -> None:
    shop = make_shop(db)
    analyst = make_user(db, shop.scheme, Role.MUNICIPALITY_ANALYST, enrolled=True)
    db.commit()
    # One two-factor code brought to both servers at once signs in once.
    body = {"email": analyst.email, "password": PASSWORD, "otp": otp(app, analyst.id)}
    answers = race([post(server.api("/auth/token"), {}, body) for server in servers])
    assert sorted(a.status for a in answers) == [201, 401], answers
    assert next(a for a in answers if a.status == 401).error_code == "bad_otp"
    staff_token = next(a.body["token"] for a in answers if a.status == 201)
    # The token one server gave works at the other (it is a row, not a server's memory).
    for server in servers:
        assert get(server.api("/reports/sectors"), bearer(staff_token))().status == 200

    # A till guessing spend codes at both servers is stopped after 20 misses in all.
    taken = set(db.scalars(sa.select(Redemption.code)))
    db.commit()
    guesses = [code for code in (f"{n:08d}" for n in range(10_000_000, 10_001_000))
               if code not in taken][: redemptions.MAX_MISSES_PER_TILL]
    at = cycle(servers)
    for guess in guesses:
        found = answer(requests.get(next(at).api(f"/redemptions/{guess}"), headers=shop.headers,
                                    timeout=TIMEOUT))
        assert (found.status, found.error_code) == (404, "unknown_code"), found
    for server in servers:
        stopped: Answer = get(server.api("/redemptions/12345678"), shop.headers)()
        assert (stopped.status, stopped.error_code) == (429, "too_many_unknown_codes")
