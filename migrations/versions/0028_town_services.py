"""town services and the expiry of euros

Revision ID: 0028
Revises: 0029
Create Date: 2026-12-05 20:20:00

Marks a merchant as a service of the municipality itself (never paid out),
and records each part of a wallet's euros that expired or was reminded of,
unique per part, kind and day.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("town_service", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "euro_credit_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("credit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("cents", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("cents > 0", name=op.f("ck_euro_credit_notices_cents_positive")),
        sa.ForeignKeyConstraint(
            ["credit_id"], ["euro_credits.id"],
            name=op.f("fk_euro_credit_notices_credit_id_euro_credits"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_euro_credit_notices_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["ledger_transactions.id"],
            name=op.f("fk_euro_credit_notices_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_euro_credit_notices_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_euro_credit_notices")),
        sa.UniqueConstraint(
            "credit_id", "kind", "on_date",
            name=op.f("uq_euro_credit_notices_credit_id_kind_on_date"),
        ),
    )
    with op.batch_alter_table("euro_credit_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_euro_credit_notices_wallet_id"), ["wallet_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("euro_credit_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_euro_credit_notices_wallet_id"))
    op.drop_table("euro_credit_notices")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("town_service")
