"""rollups per month (area x age, shop x weekday x hour): long periods read whole months

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 00:05:00

The shop rules of a report by home area or age band need each shop's exact
amount per cell over the report's period. Over a year the daily area rollup
holds hundreds of thousands of rows; the same sums per calendar month hold a
few percent of them; the hours likewise. Filled from the daily rollups here,
then kept by the fold.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_rollup_area_age_month",
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("area", sa.String(length=120), nullable=False),
        sa.Column("age_band", sa.String(length=10), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_analytics_rollup_area_age_month_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("scheme_id", "month", "area", "age_band", "merchant_id",
                                name=op.f("pk_analytics_rollup_area_age_month")),
    )
    op.create_table(
        "analytics_rollup_shop_hour_month",
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_analytics_rollup_shop_hour_month_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("scheme_id", "month", "merchant_id", "weekday", "hour",
                                name=op.f("pk_analytics_rollup_shop_hour_month")),
    )
    _fill("analytics_rollup_area_age", "analytics_rollup_area_age_month",
          ["scheme_id", "area", "age_band", "merchant_id"], ["purchases", "amount_cents"])
    _fill("analytics_rollup_shop_hour", "analytics_rollup_shop_hour_month",
          ["scheme_id", "merchant_id", "weekday", "hour"],
          ["purchases", "amount_cents", "points"])


def _fill(daily: str, monthly: str, keys: list[str], sums: list[str]) -> None:
    """The monthly table as the sums of the daily one."""
    # The first day of the month, in each database's own words.
    month = sa.literal_column({
        "sqlite": "date(day, 'start of month')",
        "postgresql": "CAST(date_trunc('month', day) AS DATE)",
    }[op.get_bind().dialect.name])
    select = (
        sa.select(month, *[sa.column(k) for k in keys],
                  *[sa.func.sum(sa.column(c)) for c in sums])
        .select_from(sa.table(daily))
        .group_by(month, *[sa.column(k) for k in keys])
    )
    names = ["month", *keys, *sums]
    target = sa.table(monthly, *[sa.column(n) for n in names])
    op.execute(target.insert().from_select(names, select))


def downgrade() -> None:
    op.drop_table("analytics_rollup_shop_hour_month")
    op.drop_table("analytics_rollup_area_age_month")
