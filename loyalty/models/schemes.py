from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.infra.db import Base, UTCDateTime, utcnow


class Scheme(Base):
    """One municipality's savings scheme: its points are one currency."""

    __tablename__ = "schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    nis_code: Mapped[str | None] = mapped_column(sa.String(5))
    timezone: Mapped[str] = mapped_column(sa.String(60), default="Europe/Brussels")
    # Euro cents of discount one point is worth when redeemed.
    point_value_cents: Mapped[int] = mapped_column(default=5)
    # Points per full euro of a sale; a shop may give more at its own cost.
    earn_rate: Mapped[int] = mapped_column(default=1)
    # The most points per euro a shop owner may choose for the own shop.
    earn_rate_max: Mapped[int] = mapped_column(default=10, server_default="10")
    claim_ttl_seconds: Mapped[int] = mapped_column(default=600)
    hold_ttl_seconds: Mapped[int] = mapped_column(default=300)
    validity_months: Mapped[int] = mapped_column(default=24)
    k_anonymity: Mapped[int] = mapped_column(default=10)
    # A shop owner may take back a collected sale for this many days.
    correction_days: Mapped[int] = mapped_column(default=14, server_default="14")
    # The till asks "is this right?" before a sale above this amount.
    confirm_above_cents: Mapped[int] = mapped_column(default=50_000, server_default="50000")
    villages: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    # Charged to every approved shop at each monthly settlement (0: no fee).
    monthly_fee_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # The municipality's account that SEPA payouts leave from and collections go to.
    iban: Mapped[str | None] = mapped_column(sa.String(34))
    bic: Mapped[str | None] = mapped_column(sa.String(11))
    # Typed by the municipality (no package has population figures): the
    # comparison page divides by it. None until the municipality fills it in.
    inhabitants: Mapped[int | None] = mapped_column()
    # Whether this scheme's totals appear on other opted-in schemes' comparison page.
    compare_opt_in: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Where shoppers and shops write with questions and requests about their data;
    # the published texts name it. None until the municipality fills it in.
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    # The released statistics (loyalty.analytics.release, docs/privacy.md): the
    # privacy budget each closed day spends, and how much of one shopper's day
    # counts at most (purchases, euro cents). A released day keeps the values it
    # was made with; a change applies to the days released after it.
    release_epsilon_per_day: Mapped[float] = mapped_column(
        sa.Float, default=1.0, server_default="1.0")
    release_max_purchases: Mapped[int] = mapped_column(default=3, server_default="3")
    # The budget each closed week, month, quarter and year spends on its shopper
    # statistics (loyalty.analytics.period_release): distinct shoppers and
    # distributions over shoppers, which no sum of days gives.
    release_epsilon_per_period: Mapped[float] = mapped_column(
        sa.Float, default=1.0, server_default="1.0")
    release_max_cents: Mapped[int] = mapped_column(default=10_000, server_default="10000")
    # A campaign's own release for its evaluation (loyalty.analytics.campaign_release):
    # the budget it spends per shopper-day of its windows, once per campaign.
    release_campaign_epsilon: Mapped[float] = mapped_column(
        sa.Float, default=1.0, server_default="1.0")
    # Whether the released statistics are published as open data (/open-data/<slug>).
    open_data: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The social tariff (loyalty.money.social): euro cents credited each month
    # to every entitled wallet, and the points multiplier of their sales in
    # percent (100: none). Both paid from the scheme's social-tariff budget.
    social_monthly_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    social_multiplier_pct: Mapped[int] = mapped_column(default=100, server_default="100")
    # The gift voucher amounts shoppers and companies may buy, in euro cents.
    voucher_amounts_cents: Mapped[list[Any]] = mapped_column(
        sa.JSON, default=lambda: [1000, 2500, 5000],
        server_default=sa.text("'[1000, 2500, 5000]'"),
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    merchants: Mapped[list[Merchant]] = relationship(back_populates="scheme")

    __table_args__ = (
        sa.CheckConstraint("point_value_cents > 0", name="point_value_positive"),
        sa.CheckConstraint("earn_rate > 0", name="earn_rate_positive"),
        sa.CheckConstraint("earn_rate_max >= earn_rate", name="earn_rate_max_above_min"),
        sa.CheckConstraint("claim_ttl_seconds > 0", name="claim_ttl_positive"),
        sa.CheckConstraint("hold_ttl_seconds > 0", name="hold_ttl_positive"),
        sa.CheckConstraint("k_anonymity >= 2", name="k_at_least_two"),
        sa.CheckConstraint("monthly_fee_cents >= 0", name="fee_not_negative"),
        sa.CheckConstraint("inhabitants IS NULL OR inhabitants > 0", name="inhabitants_positive"),
        sa.CheckConstraint("release_epsilon_per_day > 0", name="release_epsilon_positive"),
        sa.CheckConstraint("release_epsilon_per_period > 0",
                           name="release_epsilon_per_period_positive"),
        sa.CheckConstraint("release_max_purchases > 0", name="release_max_purchases_positive"),
        sa.CheckConstraint("release_max_cents > 0", name="release_max_cents_positive"),
        sa.CheckConstraint("release_campaign_epsilon > 0",
                           name="release_campaign_epsilon_positive"),
        sa.CheckConstraint("social_monthly_cents >= 0", name="social_monthly_not_negative"),
        sa.CheckConstraint("social_multiplier_pct >= 100", name="social_multiplier_at_least_one"),
    )


class MerchantStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    SUSPENDED = "suspended"


class Merchant(Base):
    """A participating shop."""

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # NACE-BEL activity code, e.g. "47.24" (bread and pastry shops).
    sector: Mapped[str] = mapped_column(sa.String(12))
    postcode: Mapped[str] = mapped_column(sa.String(4))
    email: Mapped[str] = mapped_column(sa.String(254))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    # Free text as the shop writes it, e.g. "di-za 8:00-18:00, zo 8:00-12:00".
    opening_hours: Mapped[str | None] = mapped_column(sa.String(300))
    # A small logo (PNG, JPEG or WebP, at most 200 kB), served from our own host.
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    logo_type: Mapped[str | None] = mapped_column(sa.String(20))
    logo_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(20), default=MerchantStatus.PENDING)
    # Points per euro when higher than the scheme's rate; None means the scheme's.
    earn_rate: Mapped[int | None] = mapped_column()
    # Where the scheme pays the shop: a Stripe connected account ("acct_..."),
    # else a bank account by SEPA credit transfer (checked IBAN and BIC).
    stripe_account_id: Mapped[str | None] = mapped_column(sa.String(255))
    iban: Mapped[str | None] = mapped_column(sa.String(34))
    bic: Mapped[str | None] = mapped_column(sa.String(11))
    account_holder: Mapped[str | None] = mapped_column(sa.String(70))
    # The village (deelgemeente) of the scheme's list the shop lies in, and the
    # shopping cluster the municipality put it in (loyalty.town.clusters).
    village: Mapped[str | None] = mapped_column(sa.String(100))
    cluster_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("shopping_clusters.id", ondelete="SET NULL"), index=True)
    # A service of the municipality itself (library, swimming pool): it accepts
    # points and euros like a shop, but is never paid out; the settlement books
    # what it took as the municipality's own (loyalty.money.settlement.monthly).
    town_service: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    scheme: Mapped[Scheme] = relationship(back_populates="merchants")

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'suspended')", name="status_known"
        ),
        sa.CheckConstraint("earn_rate IS NULL OR earn_rate > 0", name="earn_rate_positive"),
    )
