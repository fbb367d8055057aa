"""The write side of analytics: one purchase event per earn."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import Claim, Merchant, PseudonymKey, PurchaseEvent, Scheme, Wallet


def _year_secret(session: Session, scheme_id: int, year: int) -> str:
    secret = session.scalar(
        sa.select(PseudonymKey.secret).where(
            PseudonymKey.scheme_id == scheme_id, PseudonymKey.year == year
        )
    )
    if secret is not None:
        return secret
    # Two first earns of a year may race to create the key: a savepoint lets
    # the loser of the unique (scheme_id, year) insert read the winner's key.
    try:
        with session.begin_nested():
            session.add(
                PseudonymKey(scheme_id=scheme_id, year=year, secret=secrets.token_hex(32))
            )
    except sa.exc.IntegrityError:
        pass
    return session.scalars(
        sa.select(PseudonymKey.secret).where(
            PseudonymKey.scheme_id == scheme_id, PseudonymKey.year == year
        )
    ).one()


def shopper_key(session: Session, scheme_id: int, wallet_id: int, year: int) -> str:
    """The wallet's pseudonym for a year: HMAC-SHA256 under that year's secret."""
    secret = _year_secret(session, scheme_id, year)
    return hmac.new(secret.encode(), str(wallet_id).encode(), hashlib.sha256).hexdigest()


def record_purchase(
    session: Session,
    scheme: Scheme,
    merchant: Merchant,
    wallet: Wallet,
    claim: Claim,
    now: datetime,
    *,
    campaign_id: int | None = None,
    bonus_points: int = 0,
) -> PurchaseEvent:
    """Add the purchase event of a claimed sale. Home area and age only with consent.

    ``points`` is every point the sale credited, a campaign's bonus included.
    """
    local = now.astimezone(ZoneInfo(scheme.timezone))
    consent = wallet.stats_consent
    event = PurchaseEvent(
        scheme_id=scheme.id,
        merchant_id=merchant.id,
        sector=merchant.sector,
        amount_cents=claim.amount_cents,
        points=claim.points + bonus_points,
        campaign_id=campaign_id,
        local_date=local.date(),
        local_hour=local.hour,
        weekday=local.weekday(),
        shopper_key=shopper_key(session, scheme.id, wallet.id, local.year),
        home_postcode=wallet.home_postcode if consent else None,
        home_village=wallet.home_village if consent else None,
        age_band=wallet.age_band if consent else None,
    )
    session.add(event)
    return event
