from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.db import Base, UTCDateTime, utcnow


class PseudonymKey(Base):
    """The secret behind a scheme's shopper pseudonyms for one calendar year.

    A new key each year makes pseudonyms of different years unlinkable;
    deleting an old key makes that year's pseudonyms unlinkable to anyone.
    """

    __tablename__ = "pseudonym_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    year: Mapped[int] = mapped_column()
    secret: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("scheme_id", "year"),)


class PurchaseEvent(Base):
    """One sale for the statistics. No wallet id, token, name or e-mail, by design."""

    __tablename__ = "analytics_purchase_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"))
    sector: Mapped[str] = mapped_column(sa.String(12))
    amount_cents: Mapped[int] = mapped_column()
    points: Mapped[int] = mapped_column()
    campaign_id: Mapped[int | None] = mapped_column()
    # Local (scheme time zone) date and hour: reports group on these.
    local_date: Mapped[date] = mapped_column(sa.Date)
    local_hour: Mapped[int] = mapped_column(sa.SmallInteger)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)  # 0 = Monday
    # Keyed hash of the wallet with the year's PseudonymKey.
    shopper_key: Mapped[str] = mapped_column(sa.String(64))
    # Only with the shopper's consent:
    home_postcode: Mapped[str | None] = mapped_column(sa.String(4))
    home_village: Mapped[str | None] = mapped_column(sa.String(100))
    age_band: Mapped[str | None] = mapped_column(sa.String(10))

    __table_args__ = (
        sa.Index("ix_analytics_purchase_events_scheme_date", "scheme_id", "local_date"),
    )
