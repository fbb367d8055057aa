"""Earning: a till creates a single-use claim, a wallet collects its points once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from loyalty import campaigns, ledger, money, security, wallets
from loyalty import stamps as stamp_cards
from loyalty.analytics import events
from loyalty.db import attach
from loyalty.errors import AlreadyUsed, Conflict, Forbidden, Gone, InvalidInput, NotFound
from loyalty.models import (
    AccountKind,
    Asset,
    Claim,
    ClaimStatus,
    Merchant,
    MerchantStatus,
    Scheme,
    StampCard,
    Voucher,
    Wallet,
    WalletStatus,
)
from loyalty.schemes import earn_rate_for

# EUR 5,000: a bound well above any local sale that still stops a typo of
# three extra zeros from minting a fortune in points.
MAX_SALE_CENTS = 500_000
MAX_TTL_SECONDS = 30 * 24 * 3600  # a printed receipt QR may live a month


@dataclass(frozen=True)
class NewClaim:
    claim: Claim
    token: str


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    merchant: Merchant
    points_credited: int
    balance: int
    stamps_credited: int = 0
    vouchers: list[Voucher] = field(default_factory=list)
    # Campaign bonus, included in points_credited.
    bonus_points: int = 0


@dataclass(frozen=True)
class _SchemeZone:
    """What the purchase event needs of the scheme."""

    id: int
    timezone: str


_INSERT_CLAIM = cast(sa.Table, Claim.__table__).insert().returning(Claim.__table__.c.id)


def points_for(amount_cents: int, rate: int) -> int:
    """Points for a sale: ``rate`` points per *full* euro."""
    return (amount_cents // 100) * rate


def create_claim(
    session: Session,
    merchant: Merchant,
    amount_cents: int,
    now: datetime,
    *,
    till_key_id: int | None = None,
    ttl_seconds: int | None = None,
    stamps: int = 0,
    stamp_card_id: int | None = None,
) -> NewClaim:
    """A new open claim for a sale: points, stamps or both. Raises Forbidden, InvalidInput."""
    if merchant.status != MerchantStatus.APPROVED:
        raise Forbidden("this shop is not approved to give points", code="merchant_not_approved")
    if not 0 <= amount_cents <= MAX_SALE_CENTS or (amount_cents == 0 and stamps == 0):
        raise InvalidInput(
            f"amount_cents must be between 1 and {MAX_SALE_CENTS}", code="amount_out_of_range"
        )
    if not 0 <= stamps <= stamp_cards.MAX_STAMPS_PER_SALE:
        raise InvalidInput(
            f"stamps must be between 0 and {stamp_cards.MAX_STAMPS_PER_SALE}",
            code="stamps_out_of_range",
        )
    card = stamp_cards.card_for_sale(session, merchant, stamp_card_id) if stamps else None
    scheme = merchant.scheme
    if ttl_seconds is None:
        ttl_seconds = scheme.claim_ttl_seconds
    if not 30 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(f"ttl_seconds must be between 30 and {MAX_TTL_SECONDS}")
    points = points_for(amount_cents, earn_rate_for(scheme, merchant))
    if points == 0 and stamps == 0:
        raise InvalidInput("a sale under one euro earns no points", code="no_points")
    token = security.new_token()
    values: dict[str, Any] = {
        "scheme_id": merchant.scheme_id,
        "merchant_id": merchant.id,
        "till_key_id": till_key_id,
        "token_hash": security.token_hash(token),
        "amount_cents": amount_cents,
        "points": points,
        "stamps": stamps,
        "stamp_card_id": card.id if card else None,
        "status": ClaimStatus.OPEN.value,
        "created_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds),
    }
    # A prebuilt Core insert: every sale at every till makes one.
    session.flush()  # the shop, stamp card and till key are written
    values["id"] = session.connection().execute(_INSERT_CLAIM, values).scalar_one()
    claim = attach(session, Claim, values, refresh=True)  # a new row
    return NewClaim(claim, token)


def get_claim(session: Session, token: str) -> Claim:
    claim = session.scalar(sa.select(Claim).where(Claim.token_hash == security.token_hash(token)))
    if claim is None:
        raise NotFound("no such claim", code="unknown_claim")
    return claim


def display_status(claim: Claim, now: datetime) -> str:
    """open / claimed / expired / cancelled, as the till and the shopper see it."""
    if claim.status == ClaimStatus.OPEN and claim.expires_at <= now:
        return "expired"
    return claim.status


def _raise_for_status(claim: Claim, now: datetime) -> None:
    status = display_status(claim, now)
    if status == ClaimStatus.CLAIMED:
        raise AlreadyUsed("these points were already collected", code="already_claimed")
    if status == ClaimStatus.CANCELLED:
        raise Conflict("the shop cancelled this sale", code="claim_cancelled")
    if status == "expired":
        raise Gone("this code has expired", code="claim_expired")


_CLAIMS = cast(sa.Table, Claim.__table__)
_MERCHANTS = cast(sa.Table, Merchant.__table__)
_SCHEMES = cast(sa.Table, Scheme.__table__)
_WALLETS = cast(sa.Table, Wallet.__table__)


def _guard(by: sa.ColumnElement[Any]) -> sa.Update:
    """The conditional UPDATE that collects an open claim, naming it by ``by``."""
    return (
        _CLAIMS.update()
        .where(
            by == sa.bindparam("claim"),
            _CLAIMS.c.scheme_id == sa.bindparam("b_scheme_id"),
            _CLAIMS.c.status == ClaimStatus.OPEN.value,
            _CLAIMS.c.expires_at > sa.bindparam("now"),
            # The wallet as the write sees it, not as the token lookup read it
            # (on SQLite in a read transaction of its own): a freeze committed
            # in between stops the collect.
            sa.exists().where(
                _WALLETS.c.id == sa.bindparam("b_wallet_id"),
                _WALLETS.c.status != WalletStatus.FROZEN.value,
            ),
        )
        .values(
            status=ClaimStatus.CLAIMED.value,
            wallet_id=sa.bindparam("b_wallet_id"),
            claimed_at=sa.bindparam("b_claimed_at"),
        )
        .returning(*_CLAIMS.c)
    )


# Prebuilt: collecting is the busiest write of the platform.
_COLLECT_BY_TOKEN = _guard(_CLAIMS.c.token_hash)
_COLLECT_BY_ID = _guard(_CLAIMS.c.id)
_SET_TRANSACTION = (
    _CLAIMS.update()
    .where(_CLAIMS.c.id == sa.bindparam("claim_id"))
    .values(transaction_id=sa.bindparam("b_transaction_id"))
)
_SHOP = (
    sa.select(
        _MERCHANTS.c.name, _MERCHANTS.c.sector, _MERCHANTS.c.scheme_id,
        _SCHEMES.c.timezone, _SCHEMES.c.point_value_cents,
    )
    .join(_SCHEMES, _SCHEMES.c.id == _MERCHANTS.c.scheme_id)
    .where(_MERCHANTS.c.id == sa.bindparam("merchant_id"))
)


def claim_points(session: Session, token: str, wallet: Wallet, now: datetime) -> ClaimResult:
    """Credit a claim's points to a wallet, exactly once however many wallets race.

    Raises NotFound, Forbidden, AlreadyUsed/Conflict (409), Gone (410).
    """
    return _collect(
        session, _COLLECT_BY_TOKEN, security.token_hash(token), wallet, now,
        lambda: get_claim(session, token),
    )


def collect(session: Session, claim: Claim, wallet: Wallet, now: datetime) -> ClaimResult:
    """Credit a known claim to a wallet (a phone's scan, or a printed card at the till).

    Raises Forbidden, AlreadyUsed/Conflict (409), Gone (410).
    """
    return _collect(session, _COLLECT_BY_ID, claim.id, wallet, now, lambda: claim)


def _collect(
    session: Session,
    guard: sa.Update,
    claim_key: str | int,
    wallet: Wallet,
    now: datetime,
    find_claim: Callable[[], Claim],
) -> ClaimResult:
    conn = session.connection()
    # The conditional UPDATE is the guard: only one transaction can move the
    # row from open to claimed. On PostgreSQL a racing UPDATE waits for the
    # winner to commit, re-reads the row and matches nothing; on SQLite writers
    # are serialised by BEGIN IMMEDIATE. The loser raises and rolls back.
    # A frozen wallet does not even try; the refusal says why in the order
    # unknown claim, other scheme, frozen wallet, then the claim's status.
    row = None
    if wallet.status != WalletStatus.FROZEN:
        row = conn.execute(
            guard,
            {"claim": claim_key, "b_scheme_id": wallet.scheme_id, "now": now,
             "b_wallet_id": wallet.id, "b_claimed_at": now},
        ).mappings().first()
    if row is None:
        _refuse(session, find_claim(), wallet, now)
    claim = attach(session, Claim, dict(row), refresh=True)

    shop = conn.execute(_SHOP, {"merchant_id": claim.merchant_id}).one()
    merchant = attach(
        session, Merchant,
        {"id": claim.merchant_id, "name": shop.name, "sector": shop.sector,
         "scheme_id": shop.scheme_id},
    )
    bonus, campaign_id = 0, None
    if claim.points:
        issued = ledger.account_ref(
            session,
            claim.scheme_id,
            AccountKind.MERCHANT_ISSUED,
            Asset.POINTS,
            ledger.merchant_owner(merchant.id),
        )
        wallet_account = wallets.points_account_ref(session, wallet)
        point_value = shop.point_value_cents
        # One transaction for the base points and any campaign bonus; the
        # campaign's budget decides in the database whether it can still pay.
        earned = campaigns.post_earn(
            session,
            merchant,
            [
                ledger.Leg(issued, -claim.points),
                ledger.Leg(wallet_account, claim.points),
                *money.earn_legs(session, claim.scheme_id, merchant.id, claim.points, point_value),
            ],
            claim.points,
            wallet_account.id,
            point_value,
            claim.created_at,
            f"claim #{claim.id}",
            at=now,
        )
        txn = earned.transaction
        bonus, campaign_id = earned.bonus_points, earned.campaign_id
        conn.execute(_SET_TRANSACTION, {"claim_id": claim.id, "b_transaction_id": txn.id})
        set_committed_value(claim, "transaction_id", txn.id)
    vouchers: list[Voucher] = []
    if claim.stamps and claim.stamp_card_id is not None:
        card = session.get_one(StampCard, claim.stamp_card_id)
        vouchers = stamp_cards.give_stamps(session, card, wallet, claim.stamps, now)
    if claim.amount_cents:
        scheme = _SchemeZone(claim.scheme_id, shop.timezone)
        events.record_purchase(
            session, scheme, merchant, wallet, claim, now,
            campaign_id=campaign_id, bonus_points=bonus,
        )
    return ClaimResult(
        claim=claim,
        merchant=merchant,
        points_credited=claim.points + bonus,
        bonus_points=bonus,
        balance=wallets.points_balance(session, wallet),
        stamps_credited=claim.stamps,
        vouchers=vouchers,
    )


def _refuse(session: Session, claim: Claim, wallet: Wallet, now: datetime) -> NoReturn:
    """Why a claim cannot be collected by this wallet (the guard matched nothing)."""
    if claim.scheme_id != wallet.scheme_id:
        raise Forbidden("this code belongs to another municipality's scheme", code="wrong_scheme")
    session.refresh(wallet, ["status"])  # frozen since the token was looked up?
    wallets.ensure_usable(wallet)
    session.refresh(claim)
    _raise_for_status(claim, now)
    raise AlreadyUsed("these points were already collected", code="already_claimed")


def cancel_claim(session: Session, claim: Claim, now: datetime) -> None:
    """The till withdraws an open claim. Raises AlreadyUsed, Conflict, Gone."""
    won = session.execute(
        sa.update(Claim)
        .where(Claim.id == claim.id, Claim.status == ClaimStatus.OPEN)
        .values(status=ClaimStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(claim)
    if won != 1:
        _raise_for_status(claim, now)
