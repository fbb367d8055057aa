"""What the race tests share: a burst of requests released together on one barrier,
their answers, and reads of the balances and transactions the burst left."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import (
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    Scheme,
    Wallet,
)
from loyalty.money import ledger
from loyalty.shoppers import wallets
from tests.conftest import count
from tests.factories import make_wallet_token

TIMEOUT = 30  # seconds, for every request and for the barrier


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    replayed: bool

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code: str = self.body["error"]["code"]
            return code
        return None


def answer(response: requests.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(
        response.status_code, body, response.headers.get("Idempotent-Replayed") == "true"
    )


def race(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Run every call in its own thread, all released at once by a barrier."""
    barrier = threading.Barrier(len(calls), timeout=TIMEOUT)

    def run(call: Callable[[], Answer]) -> Answer:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def post(url: str, headers: dict[str, str], json: Any = None) -> Callable[[], Answer]:
    return lambda: answer(requests.post(url, json=json, headers=headers, timeout=TIMEOUT))


def get(url: str, headers: dict[str, str]) -> Callable[[], Answer]:
    return lambda: answer(requests.get(url, headers=headers, timeout=TIMEOUT))


def wallet_of(session: Session, token: str) -> Wallet:
    return wallets.wallet_by_token(session, token)


def balance_of_wallet(session: Session, wallet_id: int, scheme_id: int) -> int:
    account = ledger.account(
        session, scheme_id, AccountKind.WALLET, Asset.POINTS, ledger.wallet_owner(wallet_id)
    )
    return ledger.balance(session, account.id)


def holds_balance(session: Session, scheme_id: int) -> int:
    account = ledger.account(
        session, scheme_id, AccountKind.HOLDS, Asset.POINTS, ledger.SCHEME_OWNER
    )
    return ledger.balance(session, account.id)


def redeemed_balance(session: Session, scheme_id: int, merchant_id: int) -> int:
    account = ledger.account(
        session,
        scheme_id,
        AccountKind.MERCHANT_REDEEMED,
        Asset.POINTS,
        ledger.merchant_owner(merchant_id),
    )
    return ledger.balance(session, account.id)


def transactions(session: Session, kind: str, memo: str) -> int:
    return count(
        session,
        sa.select(LedgerTransaction.id).where(
            LedgerTransaction.kind == kind, LedgerTransaction.memo == memo
        ),
    )


def open_claim(session: Session, merchant: Merchant, amount_cents: int) -> tuple[str, int]:
    """A committed open claim; returns (token, claim id)."""
    new = claims.create_claim(session, merchant, amount_cents, utcnow())
    session.commit()
    return new.token, new.claim.id


def funded_wallet(session: Session, scheme: Scheme, merchant: Merchant, points: int) -> str:
    """A wallet token whose balance is ``points`` (one sale at 1 point per euro)."""
    token = make_wallet_token(session, scheme)
    claim_token, _ = open_claim(session, merchant, points * 100)
    claims.claim_points(session, claim_token, wallet_of(session, token), utcnow())
    session.commit()
    return token
