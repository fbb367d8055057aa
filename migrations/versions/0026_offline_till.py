"""the till during an outage: claim codes handed to a till in advance

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-05 20:15:00

A till asks for a small batch of claim codes while it is online, shows them
while its internet is down, and sends the amounts when the connection is
back; only then does a code become a claim the shopper can collect.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offline_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("till", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=True),
        sa.Column("sold_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(recorded_at IS NULL) = (amount_cents IS NULL)"
            " AND (recorded_at IS NULL) = (sold_at IS NULL)",
            name=op.f("ck_offline_claims_recorded_whole"),
        ),
        sa.CheckConstraint(
            "amount_cents IS NULL OR amount_cents > 0",
            name=op.f("ck_offline_claims_amount_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_offline_claims_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_offline_claims_scheme_id_schemes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_claims")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_offline_claims_token_hash")),
    )
    op.create_index(
        "ix_offline_claims_merchant_id_till", "offline_claims", ["merchant_id", "till"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_offline_claims_merchant_id_till", table_name="offline_claims")
    op.drop_table("offline_claims")
