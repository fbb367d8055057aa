"""The write side of analytics: one purchase event per earn."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Protocol, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.db import ProcessCache
from loyalty.models import Claim, Merchant, PseudonymKey, PurchaseEvent, Scheme, Wallet

# A year's secret never changes once made: each worker keeps the ones it has
# seen committed, so an earn needs no lookup.
_SECRETS = ProcessCache()
_INSERT_EVENT = cast(sa.Table, PurchaseEvent.__table__).insert()


def _year_secret(session: Session, scheme_id: int, year: int) -> str:
    cached: str | None = _SECRETS.get(session, (scheme_id, year))
    if cached is not None:
        return cached
    secret = _read_or_make_secret(session, scheme_id, year)
    _SECRETS.put(session, (scheme_id, year), secret)
    return secret


def _read_or_make_secret(session: Session, scheme_id: int, year: int) -> str:
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


class _SchemeLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def timezone(self) -> str: ...


def record_purchase(
    session: Session,
    scheme: Scheme | _SchemeLike,
    merchant: Merchant,
    wallet: Wallet,
    claim: Claim,
    now: datetime,
    *,
    campaign_id: int | None = None,
    bonus_points: int = 0,
) -> None:
    """Add the purchase event of a claimed sale. Home area and age only with consent.

    ``points`` is every point the sale credited, a campaign's bonus included.
    """
    local = now.astimezone(ZoneInfo(scheme.timezone))
    consent = wallet.stats_consent
    values = {
        "scheme_id": scheme.id,
        "merchant_id": merchant.id,
        "sector": merchant.sector,
        "amount_cents": claim.amount_cents,
        "points": claim.points + bonus_points,
        "campaign_id": campaign_id,
        "local_date": local.date(),
        "local_hour": local.hour,
        "weekday": local.weekday(),
        "shopper_key": shopper_key(session, scheme.id, wallet.id, local.year),
        "home_postcode": wallet.home_postcode if consent else None,
        "home_village": wallet.home_village if consent else None,
        "age_band": wallet.age_band if consent else None,
    }
    # A Core insert: one per earn, and nothing reads the event back in the request.
    session.connection().execute(_INSERT_EVENT, values)
