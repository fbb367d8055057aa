"""The till during an outage: a batch of codes, each recorded once, bound to its
shop and till, expiring; a code becomes collectable only once its sale is sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims, offline
from loyalty.errors import AlreadyUsed, Forbidden, InvalidInput, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import Claim, Merchant, MerchantStatus, OfflineClaim
from loyalty.shoppers import wallets
from tests.factories import make_merchant, make_scheme

TILL = "till-of-the-bakery-0001"


def _claims(session: Session, merchant: Merchant) -> int:
    """The shop's claims (the test database is shared by the run's tests)."""
    return session.scalar(
        sa.select(sa.func.count()).select_from(Claim).where(Claim.merchant_id == merchant.id)
    ) or 0


def _sale(token: str, cents: int, at: Any) -> offline.OfflineSale:
    return offline.OfflineSale(token, cents, at)


def test_a_batch_fills_the_till_up_to_its_size(session: Session) -> None:
    merchant = make_merchant(session, make_scheme(session))
    now = utcnow()
    first = offline.issue_batch(session, merchant, TILL, 0, now)
    assert len(first) == offline.BATCH_SIZE
    assert len({c.token for c in first}) == offline.BATCH_SIZE
    assert all(c.expires_at == now + offline.VALID_FOR for c in first)
    # A till that still holds 7 gets 3; one that lost everything gets a batch,
    # up to the bound of unsent codes per till.
    assert len(offline.issue_batch(session, merchant, TILL, 7, now)) == 3
    assert len(offline.issue_batch(session, merchant, TILL, 0, now)) == offline.BATCH_SIZE
    left = offline.MAX_OUTSTANDING - 2 * offline.BATCH_SIZE - 3
    assert len(offline.issue_batch(session, merchant, TILL, 0, now)) == left
    assert offline.issue_batch(session, merchant, TILL, 0, now) == []
    # Stored hashed, without an amount, and no claim exists yet.
    rows = session.scalars(
        sa.select(OfflineClaim).where(OfflineClaim.merchant_id == merchant.id)
    ).all()
    assert len(rows) == offline.MAX_OUTSTANDING
    assert {r.amount_cents for r in rows} == {None}
    assert all(r.token_hash != c.token for r in rows for c in first)
    assert _claims(session, merchant) == 0
    with pytest.raises(InvalidInput):
        offline.issue_batch(session, merchant, "short", 0, now)
    merchant.status = MerchantStatus.SUSPENDED
    with pytest.raises(Forbidden):
        offline.issue_batch(session, merchant, TILL, 0, now)


def test_a_sale_is_recorded_once_and_then_collected_once(session: Session) -> None:
    scheme = make_scheme(session, earn_rate=2)
    merchant = make_merchant(session, scheme)
    issued_at = utcnow() - timedelta(hours=3)
    code = offline.issue_batch(session, merchant, TILL, 0, issued_at)[0]
    wallet = wallets.create_wallet(session, scheme).wallet
    # Before the sale is sent, the phone finds no claim: nothing to collect.
    assert offline.waiting(session, code.token, utcnow()) is not None
    with pytest.raises(NotFound):
        claims.claim_points(session, code.token, wallet, utcnow())

    sold_at = issued_at + timedelta(hours=1)
    now = utcnow()
    [first] = offline.record_sales(session, merchant, TILL, [_sale(code.token, 2350, sold_at)], now)
    assert first.status == offline.RECORDED and first.points == 46
    # Sent again (the answer was lost): the same answer, no second claim.
    [again] = offline.record_sales(session, merchant, TILL, [_sale(code.token, 2350, sold_at)],
                                   now + timedelta(minutes=1))
    assert again == first
    # The same code with another amount is refused, not recorded twice.
    [other] = offline.record_sales(session, merchant, TILL, [_sale(code.token, 9900, sold_at)], now)
    assert (other.status, other.code) == (offline.REFUSED, "already_recorded")
    assert _claims(session, merchant) == 1
    claim = session.get_one(Claim, first.claim_id)
    assert (claim.amount_cents, claim.points, claim.created_at) == (2350, 46, sold_at)
    assert claim.expires_at == now + offline.COLLECT_FOR
    assert offline.waiting(session, code.token, utcnow()) is None

    result = claims.claim_points(session, code.token, wallet, utcnow())
    assert result.points_credited == 46 and result.balance == 46
    with pytest.raises(AlreadyUsed):
        claims.claim_points(session, code.token, wallet, utcnow())


def test_another_shop_or_till_cannot_record_a_code(session: Session) -> None:
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    other: Merchant = make_merchant(session, scheme, name="Andere winkel")
    code = offline.issue_batch(session, merchant, TILL, 0, utcnow())[0]
    sale = _sale(code.token, 1000, utcnow())
    [by_other_shop] = offline.record_sales(session, other, TILL, [sale], utcnow())
    [by_other_till] = offline.record_sales(session, merchant, "another-till-of-the-shop", [sale],
                                           utcnow())
    [unknown] = offline.record_sales(session, merchant, TILL, [_sale("made-up", 1000, utcnow())],
                                     utcnow())
    for outcome in (by_other_shop, by_other_till, unknown):
        assert (outcome.status, outcome.code) == (offline.REFUSED, "unknown_claim")
    assert _claims(session, merchant) == _claims(session, other) == 0
    [own] = offline.record_sales(session, merchant, TILL, [sale], utcnow())
    assert own.status == offline.RECORDED


def test_an_expired_or_odd_sale_never_gives_points(session: Session) -> None:
    scheme = make_scheme(session)
    merchant = make_merchant(session, scheme)
    issued_at = utcnow() - timedelta(days=10)
    old, late, early, future, small = offline.issue_batch(session, merchant, TILL, 0, issued_at)[:5]
    now = utcnow() + offline.SEND_GRACE  # a week after the codes expired
    outcomes = offline.record_sales(session, merchant, TILL, [
        # Sold after the code expired.
        _sale(old.token, 1000, issued_at + offline.VALID_FOR + timedelta(minutes=1)),
        # Sold in time, but sent long after the code expired.
        _sale(late.token, 1000, issued_at + timedelta(days=1)),
        _sale(early.token, 1000, issued_at - timedelta(minutes=1)),
        _sale(future.token, 1000, now + timedelta(hours=1)),
        _sale(small.token, 99, issued_at + timedelta(days=1)),
    ], now)
    assert [(o.status, o.code) for o in outcomes] == [
        (offline.REFUSED, "claim_expired"),
        (offline.REFUSED, "claim_expired"),
        (offline.REFUSED, "claim_expired"),
        (offline.REFUSED, "sold_in_the_future"),
        (offline.REFUSED, "no_points"),
    ]
    assert _claims(session, merchant) == 0
    assert session.scalar(
        sa.select(sa.func.count()).select_from(OfflineClaim)
        .where(OfflineClaim.merchant_id == merchant.id, OfflineClaim.recorded_at.is_not(None))
    ) == 0
    # An expired, unsent code no longer waits for its sale.
    assert offline.waiting(session, old.token, now) is None
    assert offline.waiting(session, old.token, issued_at + offline.VALID_FOR) is not None
