"""The write side of analytics: one purchase event per earn."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.infra.db import ProcessCache
from loyalty.models import PseudonymKey, PurchaseEvent

# A year's secret never changes once made: each worker keeps the ones it has
# seen committed, so an earn needs no lookup.
_SECRETS = ProcessCache()


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


class ShopperWallet(Protocol):
    """What an event takes of a wallet: its id, and its home area and age with consent."""

    @property
    def id(self) -> int: ...

    @property
    def stats_consent(self) -> bool: ...

    @property
    def home_postcode(self) -> str | None: ...

    @property
    def home_village(self) -> str | None: ...

    @property
    def age_band(self) -> str | None: ...


@dataclass(frozen=True)
class Sale:
    """A collected sale as the event records it."""

    scheme_id: int
    timezone: str  # the scheme's: dates and hours are local
    merchant_id: int
    sector: str
    amount_cents: int
    points: int  # every point the sale credited, a campaign's bonus included
    campaign_id: int | None = None


_EVENT_COLUMNS = ("scheme_id", "merchant_id", "sector", "amount_cents", "points", "campaign_id",
                  "local_date", "local_hour", "weekday", "shopper_key", "home_postcode",
                  "home_village", "age_band")
# Its parameters are named apart ("event_*"): the insert may run inside a statement
# of other parts (the collect's posting on PostgreSQL, loyalty.money.ledger.Along).
_INSERT_EVENT = sa.insert(PurchaseEvent).values(
    {name: sa.bindparam(f"event_{name}") for name in _EVENT_COLUMNS})


def record_purchase(session: Session, sale: Sale, wallet: ShopperWallet, now: datetime) -> None:
    """Add the purchase event of a collected sale. Home area and age only with consent."""
    # One per earn, and nothing reads the event back in the request: a Core
    # insert on the session's connection, no ORM object.
    session.connection().execute(_INSERT_EVENT, purchase_params(session, sale, wallet, now))


def purchase_insert(_transaction_id: Any) -> sa.Insert:
    """The event's insert (parameters: ``purchase_params``), for a statement that
    runs along with the sale's posting (ledger.Along; the posting's id is not needed)."""
    return _INSERT_EVENT


def purchase_params(session: Session, sale: Sale, wallet: ShopperWallet,
                    now: datetime) -> dict[str, Any]:
    """The event's row, as ``event_<column>``. Home area and age only with consent."""
    return {f"event_{name}": value
            for name, value in _row(session, sale, wallet, now).items()}


def _row(session: Session, sale: Sale, wallet: ShopperWallet, now: datetime) -> dict[str, Any]:
    local = now.astimezone(ZoneInfo(sale.timezone))
    consent = wallet.stats_consent
    return {
        "scheme_id": sale.scheme_id,
        "merchant_id": sale.merchant_id,
        "sector": sale.sector,
        "amount_cents": sale.amount_cents,
        "points": sale.points,
        "campaign_id": sale.campaign_id,
        "local_date": local.date(),
        "local_hour": local.hour,
        "weekday": local.weekday(),
        "shopper_key": shopper_key(session, sale.scheme_id, wallet.id, local.year),
        "home_postcode": wallet.home_postcode if consent else None,
        "home_village": wallet.home_village if consent else None,
        "age_band": wallet.age_band if consent else None,
    }
