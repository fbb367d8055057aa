"""area x age rollup per month: long report periods read whole months

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 00:05:00

The shop rules of a report by home area or age band need each shop's exact
amount per cell over the report's period. Over a year the daily rollup holds
hundreds of thousands of rows; the same sums per calendar month hold a few
percent of them. Filled from the daily rollup here, then kept by the fold.
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
    # The first day of the month, in each database's own words.
    month = {"sqlite": "date(day, 'start of month')",
             "postgresql": "CAST(date_trunc('month', day) AS DATE)"}[op.get_bind().dialect.name]
    select = sa.select(
        sa.column("scheme_id"), sa.literal_column(month), sa.column("area"),
        sa.column("age_band"), sa.column("merchant_id"), sa.func.sum(sa.column("purchases")),
        sa.func.sum(sa.column("amount_cents")),
    ).select_from(sa.table("analytics_rollup_area_age")).group_by(
        sa.column("scheme_id"), sa.literal_column(month), sa.column("area"),
        sa.column("age_band"), sa.column("merchant_id"),
    )
    names = ["scheme_id", "month", "area", "age_band", "merchant_id", "purchases",
             "amount_cents"]
    monthly = sa.table("analytics_rollup_area_age_month", *[sa.column(n) for n in names])
    op.execute(monthly.insert().from_select(names, select))


def downgrade() -> None:
    op.drop_table("analytics_rollup_area_age_month")
