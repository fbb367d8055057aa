"""campaign releases: a campaign's evaluation figures released once, with its own budget

Revision ID: 0034
Revises: 0027
Create Date: 2026-12-05 23:45:00

When a campaign's windows (before and during) have closed, its evaluation's
few aggregates are released once: per group of shops (participating, other)
and day, the number of purchases (each shopper's day counted once) with
noise. One row per campaign, inserted before its figures, stops a second
release. The scheme gets the budget such a release spends per shopper-day.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("release_campaign_epsilon", sa.Float(),
                                      server_default="1.0", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_schemes_release_campaign_epsilon_positive"),
            "release_campaign_epsilon > 0")
    op.create_table(
        "analytics_campaign_releases",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("before_first", sa.Date(), nullable=False),
        sa.Column("during_first", sa.Date(), nullable=False),
        sa.Column("during_last", sa.Date(), nullable=False),
        sa.Column("participating_shops", sa.Integer(), nullable=False),
        sa.Column("other_shops", sa.Integer(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("max_purchases", sa.Integer(), nullable=False),
        sa.Column("purchases_scale", sa.Float(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"],
            name=op.f("fk_analytics_campaign_releases_campaign_id_campaigns")),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"],
            name=op.f("fk_analytics_campaign_releases_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_analytics_campaign_releases")),
    )
    with op.batch_alter_table("analytics_campaign_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analytics_campaign_releases_scheme_id"),
                              ["scheme_id"], unique=False)
    op.create_table(
        "analytics_campaign_released_days",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["analytics_campaign_releases.campaign_id"],
            name=op.f("fk_analytics_campaign_released_days_campaign_id_"
                      "analytics_campaign_releases")),
        sa.PrimaryKeyConstraint("campaign_id", "group", "day",
                                name=op.f("pk_analytics_campaign_released_days")),
    )


def downgrade() -> None:
    op.drop_table("analytics_campaign_released_days")
    with op.batch_alter_table("analytics_campaign_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_campaign_releases_scheme_id"))
    op.drop_table("analytics_campaign_releases")
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_schemes_release_campaign_epsilon_positive"),
                                 type_="check")
        batch_op.drop_column("release_campaign_epsilon")
