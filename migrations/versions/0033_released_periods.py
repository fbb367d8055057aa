"""released periods: shopper statistics of each closed week, month, quarter and year

Revision ID: 0033
Revises: 0035
Create Date: 2026-12-05 23:40:00

Distinct shoppers and the distributions over shoppers (visit frequency, shops
per shopper, sectors sharing shoppers) are released once per closed period
with calibrated noise, like the days' cells; the period's row is written
before its cells and its key stops a second release. The scheme gets the
budget each period spends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("release_epsilon_per_period", sa.Float(),
                                      server_default="1.0", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_schemes_release_epsilon_per_period_positive"),
            "release_epsilon_per_period > 0")
    op.create_table(
        "analytics_released_periods",
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("cells", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_analytics_released_periods_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("scheme_id", "kind", "start",
                                name=op.f("pk_analytics_released_periods")),
    )
    op.create_table(
        "analytics_released_period_cells",
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("table", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("shoppers", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scheme_id", "kind", "start"],
            ["analytics_released_periods.scheme_id", "analytics_released_periods.kind",
             "analytics_released_periods.start"],
            name="fk_analytics_released_period_cells_period",
        ),
        sa.PrimaryKeyConstraint("scheme_id", "kind", "start", "table", "key",
                                name=op.f("pk_analytics_released_period_cells")),
    )


def downgrade() -> None:
    op.drop_table("analytics_released_period_cells")
    op.drop_table("analytics_released_periods")
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_schemes_release_epsilon_per_period_positive"),
                                 type_="check")
        batch_op.drop_column("release_epsilon_per_period")
