"""Settlement payouts by Stripe Connect transfer, against the local Stripe server."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.models import AccountKind, PayoutMethod, Settlement, SettlementLine
from loyalty.money import accounts, funding, ledger
from loyalty.money.settlement import bank_accounts, monthly, payouts
from tests.factories import make_scheme
from tests.settlement_data import earn_and_redeem, iban_for, make_shops
from tests.stripe_stub import StripeError, StripeStub

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
AT = datetime(2025, 3, 5, tzinfo=UTC)
KEY = "sk_test_settlement"


def _line(session: Session, settlement_id: int, merchant_id: int) -> SettlementLine:
    session.expire_all()
    line = session.scalar(sa.select(SettlementLine).where(
        SettlementLine.settlement_id == settlement_id, SettlementLine.merchant_id == merchant_id))
    assert line is not None
    return line


def test_connected_shops_are_paid_by_transfer_once(
    session: Session, stripe_stub: StripeStub, verify_ledger  # type: ignore[no-untyped-def]
) -> None:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, connected, other_connected, banked = make_shops(session, scheme, 4)
    bank_accounts.set_stripe_account(session, connected, "acct_1Connected")
    bank_accounts.set_stripe_account(session, other_connected, "acct_2Connected")
    bank_accounts.set_merchant_bank_account(session, banked, iban_for(4), "GEBABEBB", "Banked")
    session.commit()
    earn_and_redeem(session, scheme, issuer, connected, 100, AT)  # 500
    earn_and_redeem(session, scheme, issuer, other_connected, 60, AT)  # 300
    earn_and_redeem(session, scheme, issuer, banked, 40, AT)  # 200

    locked = monthly.settle(session, scheme, "2025-03", NOW, stripe_payouts=True).settlement
    session.commit()
    assert _line(session, locked.id, connected.id).payout_method == PayoutMethod.STRIPE
    assert _line(session, locked.id, banked.id).payout_method == PayoutMethod.SEPA
    # Only the bank-paid shop is in the SEPA file.
    assert (locked.sepa_transfers, locked.control_sum_cents) == (1, 200)
    cash = accounts.scheme_account(session, scheme.id, AccountKind.CASH, accounts.STRIPE)
    assert ledger.balance(session, cash.id) == 800

    settings = funding.StripeSettings(KEY, stripe_stub.url)
    # Stripe refuses the first transfer: it stays pending, the other is made.
    stripe_stub.fail_next("POST", "/v1/transfers",
                          StripeError(400, "Your destination account needs to have at least "
                                      "one of the following capabilities enabled: transfers",
                                      code="insufficient_capabilities_for_transfer"))
    assert payouts.pay_by_stripe(session, locked, settings) == (1, 1)
    session.commit()
    assert _line(session, locked.id, connected.id).stripe_transfer_id is None
    made = _line(session, locked.id, other_connected.id).stripe_transfer_id
    assert made is not None and made.startswith("tr_")

    # A crash after Stripe made the transfer but before we stored its id:
    assert payouts.pay_by_stripe(session, locked, settings) == (1, 0)
    first_id = _line(session, locked.id, connected.id).stripe_transfer_id
    session.rollback()
    assert _line(session, locked.id, connected.id).stripe_transfer_id is None
    # ... the rerun asks again with the same idempotency key and gets the same transfer.
    assert payouts.pay_by_stripe(session, locked, settings) == (1, 0)
    session.commit()
    line = _line(session, locked.id, connected.id)
    assert line.stripe_transfer_id == first_id
    assert payouts.pay_by_stripe(session, locked, settings) == (0, 0)

    transfers = [o for o in stripe_stub.objects.values() if o["object"] == "transfer"]
    assert sorted((t["destination"], t["amount"]) for t in transfers) == [
        ("acct_1Connected", 500), ("acct_2Connected", 300)
    ]
    sent = stripe_stub.received("POST", "/v1/transfers")
    to_connected = [r for r in sent if r.params.get("destination") == "acct_1Connected"]
    # The refused request under the first key; Stripe keeps that refusal for
    # the key, so the next tries ask under a new one, the same for both.
    keys = [r.headers["idempotency-key"] for r in to_connected]
    assert keys == [keys[0], payouts.transfer_idempotency_key(line), keys[-1]]
    assert keys[0].endswith("-attempt-0") and keys[-1].endswith("-attempt-1")
    assert to_connected[-1].params["currency"] == "eur"
    assert to_connected[-1].params["metadata"]["reference"] == line.reference
    assert to_connected[-1].api_key == KEY
    verify_ledger()


def test_without_stripe_a_connected_shop_is_paid_by_sepa(session: Session) -> None:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, connected = make_shops(session, scheme, 2)
    bank_accounts.set_stripe_account(session, connected, "acct_1Connected")
    bank_accounts.set_merchant_bank_account(session, connected, iban_for(8), "GEBABEBB", "C")
    session.commit()
    earn_and_redeem(session, scheme, issuer, connected, 10, AT)
    locked = monthly.settle(session, scheme, "2025-03", NOW).settlement
    session.commit()
    assert _line(session, locked.id, connected.id).payout_method == PayoutMethod.SEPA
    assert payouts.pay_by_stripe(session, locked, None) == (0, 0)
    with pytest.raises(InvalidInput):
        bank_accounts.set_stripe_account(session, connected, "not-an-account")


def test_loyalty_settle_command(
    session: Session, stripe_stub: StripeStub, database_url: str, verify_ledger  # type: ignore[no-untyped-def]
) -> None:
    scheme = make_scheme(session)
    issuer, connected = make_shops(session, scheme, 2)
    session.commit()
    earn_and_redeem(session, scheme, issuer, connected, 100, AT)
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x",
           "STRIPE_SECRET_KEY": KEY, "STRIPE_API_BASE": stripe_stub.url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lokaal_sparen", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    connect = run("connect-shop", "--shop", str(connected.id), "--account", "acct_9Cli")
    assert connect.returncode == 0, connect.stderr
    bad = run("settle", "--scheme", scheme.slug, "--period", "2025-3")
    assert bad.returncode != 0 and "2026-11" in bad.stderr
    first = run("settle", "--scheme", scheme.slug, "--period", "2025-03")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "shops: 2/2 (100%)" in first.stdout
    summary = first.stdout.strip().splitlines()[-1]
    assert summary.startswith("2025-03 locked now: 2 shops, payouts EUR 5.00")
    assert "1 Stripe transfers made" in summary and "to collect EUR 5.00" in summary
    again = run("settle", "--scheme", scheme.slug, "--period", "2025-03")
    assert again.returncode == 0
    assert "2025-03 already locked, unchanged: 2 shops, payouts EUR 5.00" in again.stdout
    assert "0 Stripe transfers made" in again.stdout
    assert len(stripe_stub.received("POST", "/v1/transfers")) == 1
    # Months left open are settled first, each on its own, in order.
    later = run("settle", "--scheme", scheme.slug, "--period", "2025-05")
    assert later.returncode == 0, later.stdout + later.stderr
    assert "2 months are due, from 2025-04" in later.stdout
    summaries = [line for line in later.stdout.splitlines() if " locked now: " in line]
    assert [line.split()[0] for line in summaries] == ["2025-04", "2025-05"]
    periods_ = session.scalars(
        sa.select(Settlement.period).where(Settlement.scheme_id == scheme.id)
        .order_by(Settlement.period)
    ).all()
    assert periods_ == ["2025-03", "2025-04", "2025-05"]
    verify_ledger()
