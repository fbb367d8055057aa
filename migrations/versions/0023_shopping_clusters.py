"""shopping clusters, shops' villages and footfall counts

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 20:40:00

A municipality groups its shops into shopping clusters (winkelkernen) and
names each shop's village; it uploads pedestrian counts per counter and hour,
each counter counting for a cluster.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loyalty.infra.db import UTCDateTime

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shopping_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_shopping_clusters_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shopping_clusters")),
        sa.UniqueConstraint("scheme_id", "name",
                            name=op.f("uq_shopping_clusters_scheme_id_name")),
    )
    op.create_index(op.f("ix_shopping_clusters_scheme_id"), "shopping_clusters", ["scheme_id"])
    op.create_table(
        "footfall_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["cluster_id"], ["shopping_clusters.id"], ondelete="SET NULL",
                                name=op.f("fk_footfall_counters_cluster_id_shopping_clusters")),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_footfall_counters_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footfall_counters")),
        sa.UniqueConstraint("scheme_id", "name",
                            name=op.f("uq_footfall_counters_scheme_id_name")),
    )
    op.create_index(op.f("ix_footfall_counters_scheme_id"), "footfall_counters", ["scheme_id"])
    op.create_table(
        "footfall_counts",
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_footfall_counts_count_not_negative")),
        sa.ForeignKeyConstraint(["counter_id"], ["footfall_counters.id"], ondelete="CASCADE",
                                name=op.f("fk_footfall_counts_counter_id_footfall_counters")),
        sa.PrimaryKeyConstraint("counter_id", "hour", name=op.f("pk_footfall_counts")),
    )
    with op.batch_alter_table("merchants") as batch_op:
        batch_op.add_column(sa.Column("village", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_merchants_cluster_id"), ["cluster_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_merchants_cluster_id_shopping_clusters"), "shopping_clusters",
            ["cluster_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_merchants_cluster_id_shopping_clusters"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_merchants_cluster_id"))
        batch_op.drop_column("cluster_id")
        batch_op.drop_column("village")
    op.drop_table("footfall_counts")
    op.drop_index(op.f("ix_footfall_counters_scheme_id"), table_name="footfall_counters")
    op.drop_table("footfall_counters")
    op.drop_index(op.f("ix_shopping_clusters_scheme_id"), table_name="shopping_clusters")
    op.drop_table("shopping_clusters")
