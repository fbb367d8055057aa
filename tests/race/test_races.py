"""Races with real threads against the real server (gunicorn, 4 worker processes).

Every test sets its data up through the domain functions and commits, then
releases a burst of requests that wait on one barrier so they hit the server
together, and finally checks both the answers and the database: balances,
statuses, the number of ledger transactions, and `loyalty ledger verify`.

On SQLite the guards are backed by ``BEGIN IMMEDIATE`` (whole write requests
queue), on PostgreSQL (READ COMMITTED) only the conditional UPDATEs and the
unique keys decide, so the PostgreSQL run is the one that proves the guards.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import (
    AccountKind,
    Asset,
    Claim,
    ClaimStatus,
    IdempotencyRecord,
    LedgerTransaction,
    Posting,
    Redemption,
    RedemptionStatus,
)
from loyalty.money import accounts, ledger
from loyalty.spending import redemptions
from tests.conftest import LiveServer, count
from tests.factories import bearer, make_scheme, make_shop, make_wallet_token
from tests.race.helpers import (
    Answer,
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


def test_many_wallets_race_for_one_claim(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    scheme_id = shop.scheme.id
    token, claim_id = open_claim(db, shop.merchant, 4250)  # 42 points
    wallet_tokens = [make_wallet_token(db, shop.scheme) for _ in range(20)]
    wallet_ids = [wallet_of(db, t).id for t in wallet_tokens]
    db.commit()

    url = live_server.api(f"/claims/{token}/claim")
    answers = race([post(url, bearer(t)) for t in wallet_tokens])

    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 1, 409: 19}, answers
    assert {a.error_code for a in answers if a.status == 409} == {"already_claimed"}
    winner = next(i for i, a in enumerate(answers) if a.status == 200)
    done = answers[winner].body
    assert (done["points_credited"], done["balance"], done["merchant"]) == (
        42,
        42,
        shop.merchant.name,
    )

    claim = db.get_one(Claim, claim_id)
    db.refresh(claim)
    assert claim.status == ClaimStatus.CLAIMED
    assert claim.wallet_id == wallet_ids[winner]
    assert claim.transaction_id is not None
    assert transactions(db, "earn", f"claim #{claim_id}") == 1
    balances = [balance_of_wallet(db, wid, scheme_id) for wid in wallet_ids]
    assert balances[winner] == 42
    assert sum(balances) == 42  # every other wallet is at 0
    db.commit()
    verify_ledger()


def test_one_wallet_races_to_overspend(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    scheme_id = shop.scheme.id
    token = funded_wallet(db, shop.scheme, shop.merchant, 300)  # a EUR 300.00 sale
    wallet_id = wallet_of(db, token).id
    assert balance_of_wallet(db, wallet_id, scheme_id) == 300
    holds_before = holds_balance(db, scheme_id)
    assert holds_before == 0
    db.commit()

    url = live_server.api("/wallet/redemptions")
    answers = race([post(url, bearer(token), {"points": 100}) for _ in range(30)])

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 3, 409: 27}, answers
    assert {a.error_code for a in answers if a.status == 409} == {"insufficient_balance"}
    codes = {a.body["code"] for a in answers if a.status == 201}
    assert len(codes) == 3

    held = db.scalars(sa.select(Redemption).where(Redemption.wallet_id == wallet_id)).all()
    assert sorted(r.code for r in held) == sorted(codes)
    assert {(r.status, r.points) for r in held} == {(RedemptionStatus.HELD, 100)}
    hold_ids = [r.hold_transaction_id for r in held]
    assert count(db, sa.select(LedgerTransaction.id).where(LedgerTransaction.id.in_(hold_ids))) == 3
    assert balance_of_wallet(db, wallet_id, scheme_id) == 0
    assert holds_balance(db, scheme_id) == 300
    db.commit()
    verify_ledger()


def test_two_shops_race_to_confirm_one_code(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(db)
    shops = [make_shop(db, scheme), make_shop(db, scheme)]
    merchant_ids = [s.merchant.id for s in shops]
    rounds = 10
    # Codes worth 1, 2, ... 10 points: 55 in all.
    token = funded_wallet(db, scheme, shops[0].merchant, rounds * (rounds + 1) // 2)
    wallet = wallet_of(db, token)
    codes = [
        redemptions.create_redemption(db, wallet, points, utcnow()).code
        for points in range(1, rounds + 1)
    ]
    db.commit()

    won_by: dict[str, int] = {}
    for code in codes:
        answers = race(
            [post(live_server.api(f"/redemptions/{code}/confirm"), s.headers) for s in shops]
        )
        assert sorted(a.status for a in answers) == [200, 409], (code, answers)
        loser = next(a for a in answers if a.status == 409)
        assert loser.error_code == "already_used", (code, answers)
        won_by[code] = merchant_ids[next(i for i, a in enumerate(answers) if a.status == 200)]

    rows = db.scalars(sa.select(Redemption).where(Redemption.code.in_(codes))).all()
    assert len(rows) == rounds
    expected = dict.fromkeys(merchant_ids, 0)
    for r in rows:
        assert r.status == RedemptionStatus.CONFIRMED
        assert r.merchant_id == won_by[r.code]
        assert transactions(db, "redeem", f"redemption #{r.id}") == 1
        # The redeem moved the points from the holds into the winner's account only.
        legs = db.execute(
            sa.select(Posting.account_id, Posting.amount).where(
                Posting.transaction_id == r.finish_transaction_id, Posting.asset == Asset.POINTS
            )
        ).all()
        winner_account = ledger.account(
            db, scheme.id, AccountKind.MERCHANT_REDEEMED, Asset.POINTS,
            ledger.merchant_owner(won_by[r.code]),
        )
        assert sorted(amount for _, amount in legs) == [-r.points, r.points]
        assert (winner_account.id, r.points) in legs
        # ... and the discount is owed to the winner only.
        position = accounts.merchant_account(
            db, scheme.id, won_by[r.code], AccountKind.MERCHANT_POSITION
        )
        euro_legs = db.execute(
            sa.select(Posting.account_id, Posting.amount).where(
                Posting.transaction_id == r.finish_transaction_id,
                Posting.asset == Asset.EUR_CENTS,
            )
        ).all()
        assert (position.id, r.discount_cents) in euro_legs and len(euro_legs) == 2
        expected[won_by[r.code]] += r.points
    for merchant_id, points in expected.items():
        assert redeemed_balance(db, scheme.id, merchant_id) == points
    assert sum(expected.values()) == 55
    assert holds_balance(db, scheme.id) == 0
    assert balance_of_wallet(db, wallet.id, scheme.id) == 0
    db.commit()
    verify_ledger()


def test_idempotent_retries_race(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    """A till and then a phone each send one request ten times at once with the
    same Idempotency-Key (a retrying client): the work is done once, and every
    answer is the first one (nine of them replayed)."""
    shop = make_shop(db)
    scheme_id, merchant_id = shop.scheme.id, shop.merchant.id
    wallet_token = make_wallet_token(db, shop.scheme)
    wallet_id = wallet_of(db, wallet_token).id
    db.commit()

    # The till asks ten times for the claim of one EUR 19.99 sale.
    sale_key = f"sale-{uuid.uuid4()}"
    headers = {**shop.headers, "Idempotency-Key": sale_key}
    answers = race(
        [post(live_server.api("/claims"), headers, {"amount_cents": 1999}) for _ in range(10)]
    )
    assert [a.status for a in answers] == [201] * 10, answers
    created = answers[0].body
    assert created["points"] == 19 and created["amount_cents"] == 1999
    assert all(a.body == created for a in answers), answers
    assert sum(not a.replayed for a in answers) == 1, answers  # one ran, nine replayed
    made = db.scalars(sa.select(Claim).where(Claim.merchant_id == merchant_id)).all()
    assert len(made) == 1
    assert made[0].status == ClaimStatus.OPEN and made[0].amount_cents == 1999
    claim_id = made[0].id
    assert claims.get_claim(db, created["token"]).id == claim_id
    db.commit()

    # The phone collects it ten times at once with one key.
    collect_key = f"collect-{uuid.uuid4()}"
    headers = {**bearer(wallet_token), "Idempotency-Key": collect_key}
    url = live_server.api(f"/claims/{created['token']}/claim")
    answers = race([post(url, headers) for _ in range(10)])

    assert [a.status for a in answers] == [200] * 10, answers
    done = answers[0].body
    assert (done["points_credited"], done["balance"], done["merchant"]) == (
        19,
        19,
        shop.merchant.name,
    )
    assert all(a.body == done for a in answers), answers
    assert sum(not a.replayed for a in answers) == 1, answers

    assert balance_of_wallet(db, wallet_id, scheme_id) == 19
    assert transactions(db, "earn", f"claim #{claim_id}") == 1
    stored = db.execute(
        sa.select(IdempotencyRecord.scope, IdempotencyRecord.status_code).where(
            IdempotencyRecord.key.in_([sale_key, collect_key])
        )
    ).all()
    assert sorted(stored) == sorted(
        [(f"till:{made[0].till_key_id}", 201), (f"wallet:{wallet_id}", 200)]
    )
    db.commit()
    verify_ledger()


def test_confirm_races_the_release_of_an_expiring_hold(
    app: Any, live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    """A till confirms a code just as its hold expires, while the expiry job
    (`loyalty redemptions expire`) and the wallet page release expired holds.

    Which side wins depends on the clock; every code must end exactly once:
    either confirmed (200, points at the shop) or released (410, points back).
    """
    shop = make_shop(db)
    scheme_id, merchant_id = shop.scheme.id, shop.merchant.id
    rounds = 8
    wallet_token = funded_wallet(db, shop.scheme, shop.merchant, 10 * rounds)
    wallet = wallet_of(db, wallet_token)
    wallet_id = wallet.id
    codes = [redemptions.create_redemption(db, wallet, 10, utcnow()).code for _ in range(rounds)]
    db.commit()
    factory = app.extensions["loyalty.sessions"]

    def expire_job() -> Answer:
        # What `loyalty redemptions expire` does, in its own transaction.
        with factory() as s, s.begin():
            released = redemptions.release_expired(s, utcnow())
        return Answer(200, released, False)

    confirm_answers: dict[str, Answer] = {}
    for i, code in enumerate(codes):
        # The holds run out 0 to 35 ms after this, around when the burst lands.
        db.execute(
            sa.update(Redemption)
            .where(Redemption.code == code)
            .values(expires_at=utcnow() + timedelta(milliseconds=5 * i))
        )
        db.commit()
        answers = race(
            [
                post(live_server.api(f"/redemptions/{code}/confirm"), shop.headers),
                expire_job,
                get(live_server.api("/wallet"), bearer(wallet_token)),
            ]
        )
        confirm_answers[code] = answers[0]
        assert answers[2].status == 200, answers

    # Anything the burst left behind is expired by now; the expiry job sweeps it.
    expire_job()
    confirmed_points = 0
    for r in db.scalars(sa.select(Redemption).where(Redemption.code.in_(codes))).all():
        answer = confirm_answers[r.code]
        assert r.finish_transaction_id is not None
        if r.status == RedemptionStatus.CONFIRMED:
            assert answer.status == 200, (r.code, answer)
            assert r.merchant_id == merchant_id
            assert transactions(db, "redeem", f"redemption #{r.id}") == 1
            assert transactions(db, "release", f"redemption #{r.id} expired") == 0
            confirmed_points += r.points
        else:
            assert r.status == RedemptionStatus.RELEASED and r.release_reason == "expired"
            assert (answer.status, answer.error_code) == (410, "code_expired"), (r.code, answer)
            assert transactions(db, "release", f"redemption #{r.id} expired") == 1
            assert transactions(db, "redeem", f"redemption #{r.id}") == 0
    assert holds_balance(db, scheme_id) == 0
    assert redeemed_balance(db, scheme_id, merchant_id) == confirmed_points
    assert balance_of_wallet(db, wallet_id, scheme_id) == 10 * rounds - confirmed_points
    db.commit()
    verify_ledger()
