"""sale corrections and the till's confirmation threshold

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 12:30:00

A shop owner may take back a collected sale within the scheme's
``correction_days``; each correction is one row per sale (the unique key makes
a repeat or a race take it back once). The till asks for confirmation above
the scheme's ``confirm_above_cents``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("correction_days", sa.Integer(), server_default="14", nullable=False)
        )
        batch_op.add_column(
            sa.Column("confirm_above_cents", sa.Integer(), server_default="50000", nullable=False)
        )
    op.create_table(
        "sale_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("points_taken_back", sa.Integer(), nullable=False),
        sa.Column("points_not_recovered", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "points_taken_back >= 0", name=op.f("ck_sale_corrections_taken_back_non_negative")
        ),
        sa.CheckConstraint(
            "points_not_recovered >= 0",
            name=op.f("ck_sale_corrections_not_recovered_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_sale_corrections_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_sale_corrections_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"],
            name=op.f("fk_sale_corrections_merchant_id_merchants"),
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_sale_corrections_wallet_id_wallets")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["ledger_transactions.id"],
            name=op.f("fk_sale_corrections_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"],
            name=op.f("fk_sale_corrections_staff_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_corrections")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_sale_corrections_claim_id")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_sale_corrections_transaction_id")),
    )
    with op.batch_alter_table("sale_corrections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sale_corrections_merchant_id"), ["merchant_id"])
        batch_op.create_index(batch_op.f("ix_sale_corrections_wallet_id"), ["wallet_id"])


def downgrade() -> None:
    with op.batch_alter_table("sale_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sale_corrections_wallet_id"))
        batch_op.drop_index(batch_op.f("ix_sale_corrections_merchant_id"))
    op.drop_table("sale_corrections")
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_column("confirm_above_cents")
        batch_op.drop_column("correction_days")
