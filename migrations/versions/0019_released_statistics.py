"""released statistics: noisy daily cells written once, and each scheme's privacy parameters

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-05 18:10:00

Published statistics become released tables: each closed day's cells are
computed once with per-shopper bounds and calibrated noise and never changed
(one row per released day, whose key stops a second release). The scheme
gets its privacy budget per day and the per-shopper daily bounds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("release_epsilon_per_day", sa.Float(),
                                      server_default="1.0", nullable=False))
        batch_op.add_column(sa.Column("release_max_purchases", sa.Integer(),
                                      server_default="3", nullable=False))
        batch_op.add_column(sa.Column("release_max_cents", sa.Integer(),
                                      server_default="10000", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_schemes_release_epsilon_positive"), "release_epsilon_per_day > 0")
        batch_op.create_check_constraint(
            op.f("ck_schemes_release_max_purchases_positive"), "release_max_purchases > 0")
        batch_op.create_check_constraint(
            op.f("ck_schemes_release_max_cents_positive"), "release_max_cents > 0")
    op.create_table(
        "analytics_released_days",
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("max_purchases", sa.Integer(), nullable=False),
        sa.Column("max_cents", sa.Integer(), nullable=False),
        sa.Column("cells", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_analytics_released_days_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("scheme_id", "day", name=op.f("pk_analytics_released_days")),
    )
    op.create_table(
        "analytics_released_cells",
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("table", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("purchases_scale", sa.Float(), nullable=False),
        sa.Column("amount_scale", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_analytics_released_cells_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("scheme_id", "day", "table", "key",
                                name=op.f("pk_analytics_released_cells")),
    )
    op.create_index("ix_analytics_released_cells_scheme_table_day", "analytics_released_cells",
                    ["scheme_id", "table", "day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_analytics_released_cells_scheme_table_day",
                  table_name="analytics_released_cells")
    op.drop_table("analytics_released_cells")
    op.drop_table("analytics_released_days")
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_schemes_release_max_cents_positive"), type_="check")
        batch_op.drop_constraint(op.f("ck_schemes_release_max_purchases_positive"),
                                 type_="check")
        batch_op.drop_constraint(op.f("ck_schemes_release_epsilon_positive"), type_="check")
        batch_op.drop_column("release_max_cents")
        batch_op.drop_column("release_max_purchases")
        batch_op.drop_column("release_epsilon_per_day")
