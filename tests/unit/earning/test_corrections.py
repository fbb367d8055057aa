"""Correcting a sale: points taken back once, the rest the shop's loss, audited,
counted by the settlement and shown to the shopper."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import campaigns, claims, corrections
from loyalty.errors import Conflict, Forbidden, Gone, InvalidInput
from loyalty.infra.db import utcnow
from loyalty.models import AccountKind, AuditEntry, LedgerTransaction, Merchant, Role, Scheme
from loyalty.money import accounts, ledger
from loyalty.shoppers import wallet_view, wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme, make_user


def _sale(session: Session, merchant: Merchant, cents: int) -> tuple[Any, Any]:
    """A sale collected by a new wallet: (claim, wallet)."""
    scheme = session.get_one(Scheme, merchant.scheme_id)
    wallet = wallets.create_wallet(session, scheme).wallet
    new = claims.create_claim(session, merchant, cents, utcnow())
    claims.collect(session, new.claim, wallet, utcnow())
    session.commit()
    return new.claim, wallet


def _position(session: Session, merchant: Merchant) -> int:
    account = accounts.merchant_account(
        session, merchant.scheme_id, merchant.id, AccountKind.MERCHANT_POSITION
    )
    return ledger.balance(session, account.id)


def test_a_sale_is_taken_back_once_and_audited(session: Session, verify_ledger: Any) -> None:
    scheme = make_scheme(session)  # a point is worth 5 cents, 1 point a euro
    shop = make_merchant(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    claim, wallet = _sale(session, shop, 45_000)  # typed 450,00 for 45,00
    assert wallets.points_balance(session, wallet) == 450
    assert _position(session, shop) == -2250

    done = corrections.correct_sale(session, claim, shop, owner, "  450 typed for 45 ",
                                    utcnow())
    session.commit()
    assert (done.points_taken_back, done.points_not_recovered) == (450, 0)
    assert done.reason == "450 typed for 45"
    assert wallets.points_balance(session, wallet) == 0
    assert _position(session, shop) == 0  # the shop owes nothing for the sale any more
    txn = session.get_one(LedgerTransaction, done.transaction_id)
    assert (txn.kind, txn.reverses_id) == ("sale_correction", claim.transaction_id)
    entry = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "sale.correct",
                                    AuditEntry.scheme_id == scheme.id)
    ).one()
    assert entry.actor_id == owner.id and entry.target_id == shop.id
    assert entry.details["points_taken_back"] == 450
    history = wallet_view.wallet_summary(session, wallet)["history"]
    assert history[0]["kind"] == "corrected" and history[0]["points"] == -450

    with pytest.raises(Conflict) as again:
        corrections.correct_sale(session, claim, shop, owner, "twice", utcnow())
    assert again.value.code == "already_corrected"
    session.rollback()
    verify_ledger()


def test_spent_points_stay_the_shops_loss(session: Session, verify_ledger: Any) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    claim, wallet = _sale(session, shop, 10_000)  # 100 points
    redemptions.create_redemption(session, wallet, 70, utcnow())  # 70 held for a spend
    session.commit()

    done = corrections.correct_sale(session, claim, shop, owner, "wrong amount", utcnow())
    session.commit()
    assert (done.points_taken_back, done.points_not_recovered) == (30, 70)
    assert wallets.points_balance(session, wallet) == 0
    # The shop still pays for the 70 points the shopper keeps: 70 x 5 cents.
    assert _position(session, shop) == -350
    row = wallet_view.wallet_summary(session, wallet)["history"][0]
    assert (row["kind"], row["points"], row["not_recovered"]) == ("corrected", -30, 70)
    verify_ledger()


def test_only_the_shops_own_recent_collected_sales(session: Session) -> None:
    scheme = make_scheme(session, correction_days=7)
    shop, other = make_merchant(session, scheme), make_merchant(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    claim, _wallet = _sale(session, shop, 2_000)
    with pytest.raises(Forbidden):
        corrections.correct_sale(session, claim, other, owner, "not mine", utcnow())
    with pytest.raises(InvalidInput) as empty:
        corrections.correct_sale(session, claim, shop, owner, "   ", utcnow())
    assert empty.value.code == "reason_required"
    with pytest.raises(Gone):
        corrections.correct_sale(session, claim, shop, owner, "late",
                                 utcnow() + timedelta(days=7, seconds=1))
    session.rollback()
    open_claim = claims.create_claim(session, shop, 2_000, utcnow()).claim
    session.commit()
    with pytest.raises(Conflict) as not_collected:
        corrections.correct_sale(session, open_claim, shop, owner, "open", utcnow())
    assert not_collected.value.code == "not_collected"
    session.rollback()
    assert corrections.correctable(session, claim, utcnow()).allowed


def test_campaign_bonus_goes_back_to_the_campaign_first(
    session: Session, verify_ledger: Any
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    now = utcnow()
    campaign = campaigns.create_campaign(
        session, scheme, name="Dubbel", starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1), budget_cents=10_000, multiplier_pct=200, now=now,
    )
    session.commit()
    claim, wallet = _sale(session, shop, 4_000)  # 40 points + 40 bonus
    assert wallets.points_balance(session, wallet) == 80
    redemptions.create_redemption(session, wallet, 50, utcnow())
    session.commit()
    budget_before = campaigns.figures(session, campaign, utcnow()).remaining_cents

    done = corrections.correct_sale(session, claim, shop, owner, "test sale", utcnow())
    session.commit()
    # 30 points were left: the campaign's 40 bonus points come first, so 30 of them
    # go back to its budget; the shop's 40 stay given (its loss), and 10 bonus points.
    assert (done.points_taken_back, done.points_not_recovered) == (30, 50)
    assert campaigns.figures(session, campaign, utcnow()).remaining_cents == (
        budget_before + 30 * scheme.point_value_cents
    )
    assert _position(session, shop) == -40 * scheme.point_value_cents
    verify_ledger()
