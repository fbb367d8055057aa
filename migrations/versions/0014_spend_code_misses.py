"""spend code misses

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-05 00:40:00

Failed spend-code look-ups per shop and till key, for the throttle that stops
a till from guessing codes (loyalty.spending.redemptions). A new table only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spend_code_misses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("till_key_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"],
            name=op.f("fk_spend_code_misses_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["till_key_id"], ["till_keys.id"],
            name=op.f("fk_spend_code_misses_till_key_id_till_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spend_code_misses")),
    )
    with op.batch_alter_table("spend_code_misses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_spend_code_misses_merchant_id_at", ["merchant_id", "at"], unique=False
        )
        batch_op.create_index(
            "ix_spend_code_misses_till_key_id_at", ["till_key_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("spend_code_misses", schema=None) as batch_op:
        batch_op.drop_index("ix_spend_code_misses_till_key_id_at")
        batch_op.drop_index("ix_spend_code_misses_merchant_id_at")
    op.drop_table("spend_code_misses")
