"""Holds: spending codes put points aside until a shop confirms, the shopper
cancels, or the code expires and the points go back (lazily or by cron)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import AlreadyUsed, Conflict, Gone
from loyalty.infra.db import utcnow
from loyalty.models import (
    AccountKind,
    Asset,
    LedgerTransaction,
    Redemption,
    RedemptionStatus,
    Scheme,
    Wallet,
)
from loyalty.money import ledger
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import Shop, bearer, make_scheme, make_shop, make_wallet_token

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Shopper:
    scheme: Scheme
    shop: Shop
    wallet: Wallet
    token: str


def _shopper(session: Session, scheme: Scheme | None = None, points: int = 50,
             at: datetime = NOW) -> Shopper:
    """A wallet with ``points`` points earned at a shop of ``scheme`` (a new one if None)."""
    scheme = scheme or make_scheme(session)
    shop = make_shop(session, scheme)
    token = make_wallet_token(session, scheme)
    wallet = wallets.wallet_by_token(session, token)
    if points:
        new = claims.create_claim(session, shop.merchant, points * 100, at)
        claims.claim_points(session, new.token, wallet, at)
        session.commit()
    return Shopper(scheme, shop, wallet, token)


def _balance(session: Session, wallet: Wallet) -> int:
    return wallets.points_balance(session, wallet)


def _holds(session: Session, scheme: Scheme) -> int:
    account = ledger.account(
        session, scheme.id, AccountKind.HOLDS, Asset.POINTS, ledger.SCHEME_OWNER
    )
    return ledger.balance(session, account.id)


def _status(session: Session, code: str) -> tuple[str, str | None]:
    row = session.execute(
        sa.select(Redemption.status, Redemption.release_reason).where(Redemption.code == code)
    ).one()
    return row[0], row[1]


def test_create_redemption_puts_points_on_hold(session: Session) -> None:
    s = _shopper(session, points=50)
    redemption = redemptions.create_redemption(session, s.wallet, 30, NOW)
    session.commit()

    assert _balance(session, s.wallet) == 20
    assert _holds(session, s.scheme) == 30
    assert redemption.status == RedemptionStatus.HELD
    assert redemption.code.isdigit() and len(redemption.code) == 8
    assert redemption.points == 30
    assert redemption.discount_cents == 30 * s.scheme.point_value_cents
    assert redemption.created_at == NOW
    assert redemptions.display_status(redemption, NOW) == "held"
    hold_txn = session.get_one(LedgerTransaction, redemption.hold_transaction_id)
    assert hold_txn.kind == "hold" and hold_txn.scheme_id == s.scheme.id
    assert redemption.finish_transaction_id is None
    assert ledger.verify(session).ok


def test_cancel_returns_the_points(session: Session) -> None:
    s = _shopper(session, points=50)
    code = redemptions.create_redemption(session, s.wallet, 30, NOW).code
    session.commit()

    later = NOW + timedelta(minutes=1)
    redemption = redemptions.cancel_redemption(session, s.wallet, code, later)
    session.commit()
    assert _balance(session, s.wallet) == 50
    assert _holds(session, s.scheme) == 0
    assert _status(session, code) == (RedemptionStatus.RELEASED, "cancelled")
    assert redemptions.display_status(redemption, later) == "cancelled"
    assert redemption.finished_at == later
    release = session.get_one(LedgerTransaction, redemption.finish_transaction_id)
    assert release.kind == "release"

    # A cancelled code can be neither cancelled again nor confirmed.
    with pytest.raises(Conflict) as again:
        redemptions.cancel_redemption(session, s.wallet, code, later)
    assert again.value.code == "code_cancelled"
    with pytest.raises(Conflict) as confirm:
        redemptions.confirm_redemption(session, code, s.shop.merchant, later)
    assert confirm.value.code == "code_cancelled"
    session.rollback()
    assert _balance(session, s.wallet) == 50


def test_an_expired_hold_is_returned_by_release_expired_with_a_later_now(
    session: Session,
) -> None:
    s = _shopper(session, points=50)
    other = _shopper(session, s.scheme, points=20)
    code = redemptions.create_redemption(session, s.wallet, 30, NOW).code
    other_code = redemptions.create_redemption(session, other.wallet, 5, NOW).code
    session.commit()

    # One second before the five minutes are up nothing is released.
    early = NOW + timedelta(seconds=299)
    assert redemptions.release_expired(session, early, wallet_id=s.wallet.id) == 0
    assert _balance(session, s.wallet) == 20

    # At expires_at the hold is expired; only the named wallet's hold goes back.
    at = NOW + timedelta(seconds=300)
    assert redemptions.release_expired(session, at, wallet_id=s.wallet.id) == 1
    session.commit()
    assert _balance(session, s.wallet) == 50
    assert _status(session, code) == (RedemptionStatus.RELEASED, "expired")
    assert _status(session, other_code) == (RedemptionStatus.HELD, None)
    assert _holds(session, s.scheme) == 5

    # Releasing again does nothing.
    assert redemptions.release_expired(session, at, wallet_id=s.wallet.id) == 0
    assert _balance(session, s.wallet) == 50
    assert ledger.verify(session).ok


def test_create_redemption_first_returns_the_wallets_expired_holds(session: Session) -> None:
    """The whole balance is spendable again once an old code has expired."""
    s = _shopper(session, points=50)
    old = redemptions.create_redemption(session, s.wallet, 50, NOW).code
    session.commit()
    new = redemptions.create_redemption(session, s.wallet, 50, NOW + timedelta(minutes=5))
    session.commit()
    assert _status(session, old) == (RedemptionStatus.RELEASED, "expired")
    assert new.status == RedemptionStatus.HELD
    assert _balance(session, s.wallet) == 0
    assert _holds(session, s.scheme) == 50


def test_an_expired_hold_is_returned_lazily_by_get_wallet(
    session: Session, client: FlaskClient
) -> None:
    # Real clock here: the API uses utcnow(). Earn and hold eleven minutes ago.
    past = utcnow() - timedelta(minutes=11)
    s = _shopper(session, points=50, at=past)
    # The live hold first: create_redemption itself returns the wallet's expired holds.
    live = redemptions.create_redemption(session, s.wallet, 5, utcnow()).code
    expired = redemptions.create_redemption(session, s.wallet, 30, past).code
    assert _balance(session, s.wallet) == 15
    assert _status(session, expired) == (RedemptionStatus.HELD, None)
    # Commit, and so end the transaction: on SQLite it holds the write lock.
    session.commit()

    response = client.get("/api/v1/wallet", headers=bearer(s.token))
    assert response.status_code == 200, response.json
    assert response.json["balance"] == 45
    assert response.json["held_points"] == 5
    assert [h["code"] for h in response.json["holds"]] == [live]

    # The release was committed, not just shown.
    assert _status(session, expired) == (RedemptionStatus.RELEASED, "expired")
    assert _status(session, live) == (RedemptionStatus.HELD, None)
    assert _balance(session, s.wallet) == 45
    assert _holds(session, s.scheme) == 5
    assert ledger.verify(session).ok


def test_the_expire_command_returns_expired_holds(app: Flask, session: Session) -> None:
    past = utcnow() - timedelta(minutes=6)
    s = _shopper(session, points=40, at=past)
    live = redemptions.create_redemption(session, s.wallet, 10, utcnow()).code
    expired = redemptions.create_redemption(session, s.wallet, 25, past).code
    assert _status(session, expired) == (RedemptionStatus.HELD, None)
    assert _balance(session, s.wallet) == 5
    session.commit()  # also ends the transaction that holds SQLite's write lock

    result = app.test_cli_runner().invoke(args=["redemptions", "expire"])
    assert result.exit_code == 0, result.output
    # The count is of the whole database, which other tests share.
    released = int(result.output.split()[1])
    assert result.output == f"released {released} expired holds\n" and released >= 1

    assert _status(session, expired) == (RedemptionStatus.RELEASED, "expired")
    assert _status(session, live) == (RedemptionStatus.HELD, None)
    assert _balance(session, s.wallet) == 30
    assert _holds(session, s.scheme) == 10
    assert ledger.verify(session).ok
    session.commit()

    again = app.test_cli_runner().invoke(args=["redemptions", "expire"])
    assert again.exit_code == 0
    assert _balance(session, s.wallet) == 30


def test_confirming_an_expired_code_raises_gone(session: Session) -> None:
    s = _shopper(session, points=50)
    code = redemptions.create_redemption(session, s.wallet, 30, NOW).code
    session.commit()

    with pytest.raises(Gone) as gone:
        redemptions.confirm_redemption(session, code, s.shop.merchant, NOW + timedelta(minutes=5))
    assert gone.value.code == "code_expired" and gone.value.status == 410
    session.rollback()
    assert _status(session, code) == (RedemptionStatus.HELD, None)
    assert _holds(session, s.scheme) == 30

    # Once released as expired, it is still Gone rather than "already used".
    redemptions.release_expired(session, NOW + timedelta(minutes=5), wallet_id=s.wallet.id)
    session.commit()
    with pytest.raises(Gone):
        redemptions.confirm_redemption(session, code, s.shop.merchant, NOW + timedelta(minutes=6))
    session.rollback()


def test_confirming_just_before_expiry_works_and_only_once(session: Session) -> None:
    s = _shopper(session, points=50)
    code = redemptions.create_redemption(session, s.wallet, 30, NOW).code
    session.commit()
    at = NOW + timedelta(seconds=299)
    redemption = redemptions.confirm_redemption(session, code, s.shop.merchant, at)
    session.commit()
    assert redemption.status == RedemptionStatus.CONFIRMED
    assert redemption.merchant_id == s.shop.merchant.id
    assert _holds(session, s.scheme) == 0
    redeemed = ledger.account(
        session, s.scheme.id, AccountKind.MERCHANT_REDEEMED, Asset.POINTS,
        ledger.merchant_owner(s.shop.merchant.id),
    )
    assert ledger.balance(session, redeemed.id) == 30

    with pytest.raises(AlreadyUsed):
        redemptions.confirm_redemption(session, code, s.shop.merchant, at)
    # A used code stays used: it neither expires nor cancels back into the wallet.
    much_later = NOW + timedelta(hours=1)
    assert redemptions.release_expired(session, much_later, wallet_id=s.wallet.id) == 0
    with pytest.raises(AlreadyUsed):
        redemptions.cancel_redemption(session, s.wallet, code, at)
    session.rollback()
    assert _balance(session, s.wallet) == 20


def test_confirming_an_expired_code_through_the_api_is_410(
    session: Session, client: FlaskClient
) -> None:
    past = utcnow() - timedelta(minutes=6)
    s = _shopper(session, points=50, at=past)
    code = redemptions.create_redemption(session, s.wallet, 30, past).code
    session.commit()

    response = client.post(f"/api/v1/redemptions/{code}/confirm", headers=s.shop.headers)
    assert response.status_code == 410, response.json
    assert response.json["error"]["code"] == "code_expired"
    assert _status(session, code) == (RedemptionStatus.HELD, None)
    redeemed = ledger.account(
        session, s.scheme.id, AccountKind.MERCHANT_REDEEMED, Asset.POINTS,
        ledger.merchant_owner(s.shop.merchant.id),
    )
    assert ledger.balance(session, redeemed.id) == 0


def test_default_expiry_is_five_minutes_for_holds_and_ten_for_claims(session: Session) -> None:
    s = _shopper(session, points=50)
    assert s.scheme.hold_ttl_seconds == 300
    assert s.scheme.claim_ttl_seconds == 600

    redemption = redemptions.create_redemption(session, s.wallet, 10, NOW)
    assert redemption.expires_at == NOW + timedelta(minutes=5)
    claim = claims.create_claim(session, s.shop.merchant, 1000, NOW).claim
    assert claim.expires_at == NOW + timedelta(minutes=10)
    session.commit()


def test_a_scheme_setting_changes_the_expiry(session: Session) -> None:
    scheme = make_scheme(session, hold_ttl_seconds=90, claim_ttl_seconds=45)
    s = _shopper(session, scheme, points=50)

    code = redemptions.create_redemption(session, s.wallet, 10, NOW).code
    new_claim = claims.create_claim(session, s.shop.merchant, 1000, NOW)
    session.commit()
    redemption = redemptions.get_redemption(session, code, scheme.id)
    assert redemption.expires_at == NOW + timedelta(seconds=90)
    assert new_claim.claim.expires_at == NOW + timedelta(seconds=45)

    with pytest.raises(Gone):
        redemptions.confirm_redemption(session, code, s.shop.merchant, NOW + timedelta(seconds=90))
    with pytest.raises(Gone) as claim_gone:
        claims.claim_points(session, new_claim.token, s.wallet, NOW + timedelta(seconds=45))
    assert claim_gone.value.code == "claim_expired"
    session.rollback()

    # Inside the shorter windows both still work.
    redemptions.confirm_redemption(session, code, s.shop.merchant, NOW + timedelta(seconds=89))
    claims.claim_points(session, new_claim.token, s.wallet, NOW + timedelta(seconds=44))
    session.commit()
    assert _balance(session, s.wallet) == 50 - 10 + 10
