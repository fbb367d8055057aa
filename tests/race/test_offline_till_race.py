"""Two sends of one offline till's queue at once (the till retried while the first
answer was still on its way): each sale becomes one claim, credited once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import offline
from loyalty.infra.db import utcnow
from loyalty.models import Claim, LedgerTransaction, OfflineClaim, Role
from tests.conftest import LiveServer
from tests.factories import PASSWORD, bearer, make_shop, make_user, make_wallet_token
from tests.race.helpers import TIMEOUT, answer, balance_of_wallet, race, wallet_of

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TILL = "the-till-that-retried"


def _signed_in(server: LiveServer, email: str) -> requests.Session:
    """A cashier's till, signed in through the login form (cashiers type no code)."""
    browser = requests.Session()
    page = browser.get(f"{server.url}/login", timeout=TIMEOUT).text
    match = CSRF.search(page)
    assert match
    done = browser.post(f"{server.url}/login", timeout=TIMEOUT, data={
        "csrf_token": match.group(1), "email": email, "password": PASSWORD,
    })
    assert done.url.endswith("/portal/till"), done.url
    return browser


def test_two_sends_of_one_queue_record_and_credit_each_sale_once(
    live_server: LiveServer, db: Session, verify_ledger: Any
) -> None:
    shop = make_shop(db)
    scheme_id = shop.scheme.id
    cashier = make_user(db, shop.scheme, Role.CASHIER, shop.merchant)
    codes = offline.issue_batch(db, shop.merchant, TILL, 0, utcnow())
    wallet_token = make_wallet_token(db, shop.scheme)
    db.commit()
    sold_at = datetime.now(UTC).isoformat()
    queue = {"till": TILL, "sales": [
        {"token": code.token, "amount_cents": 1000 + 100 * n, "sold_at": sold_at}
        for n, code in enumerate(codes[:3])
    ]}
    tills = [_signed_in(live_server, cashier.email) for _ in range(2)]

    def send(till: requests.Session) -> Any:
        got = till.get(f"{live_server.url}/portal/till/offline/token", timeout=TIMEOUT)
        assert got.headers.get("Content-Type") == "application/json", (got.status_code, got.url)
        csrf = got.json()
        return lambda: answer(till.post(
            f"{live_server.url}/portal/till/offline/sales", json=queue, timeout=TIMEOUT,
            headers={"X-CSRFToken": csrf["csrf"]},
        ))

    answers = race([send(till) for till in tills])
    assert [a.status for a in answers] == [200, 200], answers
    first, second = (a.body["results"] for a in answers)
    # Both answers say the same: recorded, as the same claims.
    assert first == second
    assert [r["status"] for r in first] == ["recorded"] * 3
    assert [r["points"] for r in first] == [10, 11, 12]
    merchant_id = shop.merchant.id
    assert db.scalar(
        sa.select(sa.func.count()).select_from(Claim).where(Claim.merchant_id == merchant_id)
    ) == 3
    assert db.scalar(
        sa.select(sa.func.count()).select_from(OfflineClaim)
        .where(OfflineClaim.merchant_id == merchant_id, OfflineClaim.recorded_at.is_not(None))
    ) == 3
    db.rollback()

    # The phone collects each sale once, even when it taps twice at once.
    for code in codes[:3]:
        taps = race([
            lambda code=code: answer(requests.post(
                live_server.api(f"/claims/{code.token}/claim"), json={},
                headers=bearer(wallet_token), timeout=TIMEOUT,
            ))
            for _ in range(2)
        ])
        assert sorted(t.status for t in taps) == [200, 409], taps
    wallet = wallet_of(db, wallet_token)
    assert balance_of_wallet(db, wallet.id, scheme_id) == 33
    assert db.scalar(
        sa.select(sa.func.count()).select_from(LedgerTransaction)
        .where(LedgerTransaction.kind == "earn",
               LedgerTransaction.memo.in_([f"claim #{r['claim_id']}" for r in first]))
    ) == 3
    verify_ledger()
