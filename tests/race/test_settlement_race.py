"""Settling one month from many requests at once: one settlement, one answer, one
payment request, against the real server (gunicorn, 4 worker processes)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import LedgerTransaction, Role, Settlement
from loyalty.money.settlement import bank_accounts
from tests.conftest import LiveServer
from tests.factories import PASSWORD, bearer, code_after, make_scheme, make_user
from tests.race.helpers import TIMEOUT, post, race
from tests.settlement_data import earn_and_redeem, iban_for, make_shops


def test_one_settlement_of_a_month_however_many_ask(
    live_server: LiveServer, db: Session, verify_ledger  # type: ignore[no-untyped-def]
) -> None:
    scheme = make_scheme(db, monthly_fee_cents=100)
    bank_accounts.set_scheme_bank_account(db, scheme, "BE71096123456769", "")
    issuer, taker = make_shops(db, scheme, 2)
    bank_accounts.set_merchant_bank_account(db, taker, iban_for(21), "GEBABEBB", "Taker bv")
    db.commit()
    earn_and_redeem(db, scheme, issuer, taker, 100, datetime(2025, 3, 9, tzinfo=UTC))
    admin = make_user(db, scheme, Role.MUNICIPALITY_ADMIN)
    issuer_email, scheme_id = issuer.email, scheme.id
    db.commit()
    token = requests.post(live_server.api("/auth/token"),
                          json={"email": admin.email, "password": PASSWORD,
                                "otp": code_after(None)},
                          timeout=TIMEOUT).json()["token"]

    answers = race([
        post(live_server.api("/settlements"), bearer(token), {"period": "2025-03"})
        for _ in range(8)
    ])
    assert sorted(a.status for a in answers) == [200] * 7 + [201], answers
    assert all(a.body == answers[0].body for a in answers)
    rows = {row["merchant_id"]: row for row in answers[0].body["shops"]}
    assert rows[taker.id]["net_cents"] == 500 - 100
    assert answers[0].body["control_sum_cents"] == 400

    assert db.scalar(sa.select(sa.func.count()).select_from(Settlement)
                     .where(Settlement.scheme_id == scheme_id)) == 1
    assert db.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.scheme_id == scheme_id,
        LedgerTransaction.kind.like("settlement%"))) == 3  # two fees, one payout
    db.rollback()
    # The shop that owes is asked once.
    live_server.mailbox.wait_for(issuer_email)
    time.sleep(1)
    assert [m["To"] for m in live_server.mailbox.messages].count(issuer_email) == 1
    verify_ledger()
