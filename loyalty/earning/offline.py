"""The till during an outage: claim codes handed out in advance, amounts sent later.

While online, a till asks for a small batch of codes (``issue_batch``): claim
tokens without an amount, bound to the shop and to the till that asked,
valid for sales for a week. When the shop's internet is down, the till shows
the next unused code for a sale and queues (token, amount, time). When the
connection is back it sends the queue (``record_sales``): each code becomes a
real claim, with the same token, exactly once, however often the queue is sent
and however many tills send it at once. Only then can a phone collect it; a
code never sent, or sent for a sale after it expired, never gives points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import Forbidden, InvalidInput
from loyalty.infra import security
from loyalty.models import Claim, Merchant, MerchantStatus, OfflineClaim

BATCH_SIZE = 10
# Codes a till may hold unsent at once. A till that lost its storage asks again;
# the codes it lost are worth nothing without a sale sent by this till, so the
# bound only keeps the table small (two racing requests may pass it by a batch).
MAX_OUTSTANDING = 3 * BATCH_SIZE
VALID_FOR = timedelta(days=7)
# A sale made with a valid code may reach the server this much after the code's
# expiry (a shop closed for the weekend with its till off).
SEND_GRACE = timedelta(days=7)
# The shopper who scanned during the outage opens the link again later.
COLLECT_FOR = timedelta(days=7)
# A till's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)
TILL_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_SALES_PER_SEND = 100

RECORDED = "recorded"
REFUSED = "refused"


@dataclass(frozen=True)
class IssuedCode:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class OfflineSale:
    token: str
    amount_cents: int
    sold_at: datetime


@dataclass(frozen=True)
class SaleOutcome:
    """What became of one queued sale: recorded (now or by an earlier send) or refused."""

    token: str
    status: str
    code: str | None = None
    claim_id: int | None = None
    points: int | None = None


def new_till_id() -> str:
    return security.new_token()


def _check_till(till: str) -> None:
    if not TILL_ID.fullmatch(till):
        raise InvalidInput("till must be the id this server gave the till", code="invalid_till")


def issue_batch(
    session: Session, merchant: Merchant, till: str, have: int, now: datetime
) -> list[IssuedCode]:
    """Codes to bring the till's unused ones up to BATCH_SIZE (it says how many it
    still ``have``s). Raises Forbidden (shop not approved), InvalidInput."""
    if merchant.status != MerchantStatus.APPROVED:
        raise Forbidden("this shop is not approved to give points", code="merchant_not_approved")
    _check_till(till)
    outstanding = session.scalar(
        sa.select(sa.func.count()).select_from(OfflineClaim).where(
            OfflineClaim.merchant_id == merchant.id,
            OfflineClaim.till == till,
            OfflineClaim.recorded_at.is_(None),
            OfflineClaim.expires_at > now,
        )
    ) or 0
    wanted = max(0, min(BATCH_SIZE - max(have, 0), MAX_OUTSTANDING - outstanding))
    issued = [IssuedCode(security.new_token(), now + VALID_FOR) for _ in range(wanted)]
    if issued:
        session.execute(sa.insert(OfflineClaim), [
            {
                "scheme_id": merchant.scheme_id,
                "merchant_id": merchant.id,
                "till": till,
                "token_hash": security.token_hash(code.token),
                "issued_at": now,
                "expires_at": code.expires_at,
            }
            for code in issued
        ])
    return issued


def record_sales(
    session: Session, merchant: Merchant, till: str, sales: list[OfflineSale], now: datetime
) -> list[SaleOutcome]:
    """Record the till's queued sales, each once; a sale sent again answers as the
    first time. Raises InvalidInput for a malformed till id or too long a queue."""
    _check_till(till)
    if len(sales) > MAX_SALES_PER_SEND:
        raise InvalidInput(f"at most {MAX_SALES_PER_SEND} sales at once", code="too_many_sales")
    terms = claims.SaleTerms.of(merchant)
    return [_record(session, terms, till, sale, now) for sale in sales]


def _record(
    session: Session, terms: claims.SaleTerms, till: str, sale: OfflineSale, now: datetime
) -> SaleOutcome:
    def refused(code: str) -> SaleOutcome:
        return SaleOutcome(sale.token, REFUSED, code)

    token_hash = security.token_hash(sale.token)
    if terms.merchant_status != MerchantStatus.APPROVED:
        return refused("merchant_not_approved")
    if not 0 < sale.amount_cents <= claims.MAX_SALE_CENTS:
        return refused("amount_out_of_range")
    if claims.points_for(sale.amount_cents, terms.earn_rate) == 0:
        return refused("no_points")
    if sale.sold_at > now + CLOCK_SKEW:
        return refused("sold_in_the_future")
    # The guard: only the first send moves the code from "no amount" to
    # "recorded". On PostgreSQL a racing send waits for the first to commit and
    # then matches nothing; on SQLite writers queue (BEGIN IMMEDIATE).
    won = session.execute(
        sa.update(OfflineClaim)
        .where(
            OfflineClaim.token_hash == token_hash,
            OfflineClaim.merchant_id == terms.merchant_id,
            OfflineClaim.till == till,
            OfflineClaim.recorded_at.is_(None),
            OfflineClaim.issued_at <= sale.sold_at,
            OfflineClaim.expires_at >= sale.sold_at,
            OfflineClaim.expires_at > now - SEND_GRACE,
        )
        .values(amount_cents=sale.amount_cents, sold_at=sale.sold_at, recorded_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won == 1:
        # The claim is dated at the sale, so a campaign running then pays its
        # bonus; its points follow the shop's rate now (rates change rarely and
        # only forwards). Its token hash is unique among claims too.
        new = claims.create_claim(
            session, terms, sale.amount_cents, min(sale.sold_at, now),
            token=sale.token, expires_at=now + COLLECT_FOR,
        )
        return SaleOutcome(sale.token, RECORDED, claim_id=new.id, points=new.points)
    code = session.execute(
        sa.select(OfflineClaim).where(OfflineClaim.token_hash == token_hash)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if code is None or code.merchant_id != terms.merchant_id or code.till != till:
        # Another shop's or another till's code: said as if unknown.
        return refused("unknown_claim")
    if code.recorded_at is None:
        return refused("claim_expired")
    if code.amount_cents != sale.amount_cents or code.sold_at != sale.sold_at:
        return refused("already_recorded")
    claim_id, points = session.execute(
        sa.select(Claim.id, Claim.points).where(Claim.token_hash == token_hash)
    ).one()
    return SaleOutcome(sale.token, RECORDED, claim_id=claim_id, points=points)


def waiting(session: Session, token: str, now: datetime) -> OfflineClaim | None:
    """The till's code behind ``token`` if its sale may still be sent (the shopper's
    phone scanned it before the till's connection came back), else None."""
    code = session.scalar(
        sa.select(OfflineClaim).where(OfflineClaim.token_hash == security.token_hash(token))
    )
    if code is None or code.recorded_at is not None or code.expires_at + SEND_GRACE <= now:
        return None
    return code
