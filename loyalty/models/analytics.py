from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


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
        # The rollups' "anything newer than the watermark?" is one index probe.
        sa.Index("ix_analytics_purchase_events_scheme_id_id", "scheme_id", "id"),
    )


# -- Rollups: kept current by loyalty.analytics.rollups.refresh -------------------------------
#
# Sums (purchases, amounts, points) add up across days, hours and shops, so the
# first table answers every "how much" question. Distinct shoppers do not add
# up: a shopper who buys on Monday and on Tuesday is one shopper for the week,
# not two. The per (day, shop, shopper) table is the grain from which distinct
# counts over any period are exact (COUNT(DISTINCT shopper_key)); the counts of
# whole calendar months, quarters and years are stored ready in
# ShopperCount, so the usual report periods need no distinct count at all.


class RollupShopHour(Base):
    """Sales per local day x shop x hour: the additive figures."""

    __tablename__ = "analytics_rollup_shop_hour"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    sector: Mapped[str] = mapped_column(sa.String(12))
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    points: Mapped[int] = mapped_column(sa.BigInteger)


class RollupShopHourMonth(Base):
    """RollupShopHour summed per calendar month and weekday: a report by hour over
    a long period reads its whole months here and only its broken months per day."""

    __tablename__ = "analytics_rollup_shop_hour_month"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    hour: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    points: Mapped[int] = mapped_column(sa.BigInteger)


class RollupShopDay(Base):
    """Sales per local day x shop: the day x shop x hour table without the hour, 10 to 15
    times fewer rows for every report that does not group by hour."""

    __tablename__ = "analytics_rollup_shop_day"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(primary_key=True)
    sector: Mapped[str] = mapped_column(sa.String(12))
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    points: Mapped[int] = mapped_column(sa.BigInteger)


class RollupShopShopper(Base):
    """Sales per local day x shop x pseudonym: the grain of exact distinct counts.

    The home area and age band are those of the shopper's last sale that day
    (consent data only; "unknown" without consent).
    """

    __tablename__ = "analytics_rollup_shop_shopper"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(primary_key=True)
    shopper_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date)  # first day of the day's month
    sector: Mapped[str] = mapped_column(sa.String(12))
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    area: Mapped[str] = mapped_column(sa.String(120))
    age_band: Mapped[str] = mapped_column(sa.String(10))
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (
        sa.Index("ix_analytics_rollup_shop_shopper_month", "scheme_id", "month"),
    )


class RollupAreaAge(Base):
    """Sales per local day x home area x age band (x shop, for the shop rules)."""

    __tablename__ = "analytics_rollup_area_age"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    area: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    age_band: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(primary_key=True)
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)


class RollupAreaAgeMonth(Base):
    """RollupAreaAge summed per calendar month: a report over a long period reads
    its whole months here and only the days of its broken months per day."""

    __tablename__ = "analytics_rollup_area_age_month"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    area: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    age_band: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(primary_key=True)
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)


class RollupShopperMonth(Base):
    """Per calendar month x pseudonym: how often a shopper came, for frequency reports."""

    __tablename__ = "analytics_rollup_shopper_month"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    shopper_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    first_day: Mapped[date] = mapped_column(sa.Date)
    last_day: Mapped[date] = mapped_column(sa.Date)


class ShopperCount(Base):
    """Distinct shoppers of a whole month, quarter or year, per report dimension.

    Recomputed from RollupShopShopper for every period that new events touch.
    """

    __tablename__ = "analytics_shopper_counts"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    grain: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # month, quarter, year
    period_start: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    shoppers: Mapped[int] = mapped_column()


class RollupState(Base):
    """How far a scheme's rollups have read the purchase events.

    ``last_event_id`` is the watermark; ``gaps`` lists ids below it that were
    not yet visible when it moved (a sale committing after a later one, on
    PostgreSQL), as [id, unix time first missed], retried for an hour.
    ``version`` moves on every refresh: a refresh claims its range with
    ``UPDATE ... WHERE version = :seen``, so two refreshes never fold the same
    events twice.
    """

    __tablename__ = "analytics_rollup_state"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    version: Mapped[int] = mapped_column(default=0)
    gaps: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    events_folded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- Released statistics: loyalty.analytics.release writes them once, never changes them ------
#
# Reports that leave the office read these, not the rollups: each closed day's
# cells are computed once with every shopper's contribution bounded and
# calibrated noise added, so two answers over overlapping periods differ only
# by released (noisy) cells. See docs/privacy.md.


class ReleasedDay(Base):
    """A scheme's released day: the privacy parameters its cells were made with.

    One row per (scheme, day), inserted before the day's cells in the same
    transaction: a second release of the day (a rerun, or a race with another
    worker) fails on this key and writes nothing.
    """

    __tablename__ = "analytics_released_days"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    # What the day's release cost, as the noise library accounts it (the sum
    # over its tables and figures: pure differential privacy composes by adding).
    epsilon: Mapped[float] = mapped_column(sa.Float)
    max_purchases: Mapped[int] = mapped_column()  # per shopper per day
    max_cents: Mapped[int] = mapped_column()  # per shopper per day
    cells: Mapped[int] = mapped_column()
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReleasedCell(Base):
    """One released cell of a day: noisy purchases and amount, with their noise scales.

    The figures are the raw noisy values (they may be below zero, which keeps
    sums over many cells unbiased); pages show them rounded up to zero. The
    scale is that of the (discrete) Laplace noise added to each figure.
    """

    __tablename__ = "analytics_released_cells"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    table: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    purchases: Mapped[int] = mapped_column()
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    purchases_scale: Mapped[float] = mapped_column(sa.Float)
    amount_scale: Mapped[float] = mapped_column(sa.Float)

    __table_args__ = (
        sa.Index("ix_analytics_released_cells_scheme_table_day", "scheme_id", "table", "day"),
    )


# -- a campaign's own release ------------------------------------------------------
#
# The campaign evaluation's few aggregates, released once when its windows have
# closed (loyalty.analytics.campaign_release): per group of shops and day, the
# bounded number of purchases with noise of the scale stored on the release.


class CampaignRelease(Base):
    """A campaign's release: its windows, groups, bound, noise scale and budget.

    One row per campaign, inserted before its figures in the same transaction: a
    second release (a rerun, another worker) fails on this key and writes nothing.
    """

    __tablename__ = "analytics_campaign_releases"

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"), primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    before_first: Mapped[date] = mapped_column(sa.Date)  # the window "before" starts
    during_first: Mapped[date] = mapped_column(sa.Date)  # the campaign's first day
    during_last: Mapped[date] = mapped_column(sa.Date)
    participating_shops: Mapped[int] = mapped_column()
    other_shops: Mapped[int] = mapped_column()
    # Spent per shopper-day of the windows, as the noise library accounts it.
    epsilon: Mapped[float] = mapped_column(sa.Float)
    max_purchases: Mapped[int] = mapped_column()  # per shopper per day
    purchases_scale: Mapped[float] = mapped_column(sa.Float)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignReleasedDay(Base):
    """One group's day in a campaign's release: its noisy number of purchases (raw, may
    be below zero, so that sums stay unbiased)."""

    __tablename__ = "analytics_campaign_released_days"

    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("analytics_campaign_releases.campaign_id"), primary_key=True)
    group: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    purchases: Mapped[int] = mapped_column()
class ReleasedPeriod(Base):
    """A scheme's released period (an ISO week, calendar month, quarter or year) of
    shopper statistics: distinct shoppers and distributions over shoppers, which no
    sum of days can give (loyalty.analytics.period_release).

    One row per (scheme, kind, start), inserted before the period's cells in the
    same transaction: a second release of the period fails on this key and writes
    nothing, so a released period's cells never change.
    """

    __tablename__ = "analytics_released_periods"

    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # week, month ...
    start: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    end: Mapped[date] = mapped_column(sa.Date)  # inclusive
    # What the period's release cost, as the noise library accounts it.
    epsilon: Mapped[float] = mapped_column(sa.Float)
    cells: Mapped[int] = mapped_column()
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReleasedPeriodCell(Base):
    """One released cell of a period: a noisy count of shoppers, with its noise scale.

    The count is the raw noisy value (it may be below zero); pages show it
    rounded up to zero. Counts of shoppers only: no pseudonym, no amount.
    """

    __tablename__ = "analytics_released_period_cells"

    scheme_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    start: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    table: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    shoppers: Mapped[int] = mapped_column()
    scale: Mapped[float] = mapped_column(sa.Float)

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["scheme_id", "kind", "start"],
            ["analytics_released_periods.scheme_id", "analytics_released_periods.kind",
             "analytics_released_periods.start"],
            # Named here: the convention's name is longer than PostgreSQL keeps.
            name="fk_analytics_released_period_cells_period",
        ),
    )
