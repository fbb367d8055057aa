from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class Campaign(Base):
    """Bonus points paid from a municipal budget, for some shops, between two moments.

    The budget and the bonus points given live in the ledger (a campaign_budget
    account in euro cents and a campaign_issued account in points, both owned
    by "campaign:<id>"): what is spent is read from there, never counted twice.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Either a multiplier in percent (200: double points, the bonus is the base
    # points x (m - 1)) or a fixed number of bonus points per sale.
    multiplier_pct: Mapped[int | None] = mapped_column()
    bonus_points: Mapped[int | None] = mapped_column()
    # NACE-BEL codes or prefixes ("47.24", "56") and shop ids; both empty: every shop.
    sectors: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    merchant_ids: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    budget_cents: Mapped[int] = mapped_column(sa.BigInteger)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("budget_cents > 0", name="budget_positive"),
        sa.CheckConstraint(
            "(multiplier_pct IS NULL) <> (bonus_points IS NULL)", name="one_kind_of_bonus"
        ),
        sa.CheckConstraint(
            "multiplier_pct IS NULL OR multiplier_pct > 100", name="multiplier_above_one"
        ),
        sa.CheckConstraint("bonus_points IS NULL OR bonus_points > 0", name="bonus_positive"),
    )


class CalendarEvent(Base):
    """A local event marked on the calendar ("Kerstmarkt"), in the scheme's local dates."""

    __tablename__ = "calendar_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="ends_on_or_after_start"),)
