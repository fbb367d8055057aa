"""wallet passes: a wallet's pass serial and the devices registered for its updates

Revision ID: 0024
Revises: 0032
Create Date: 2026-12-05 20:15:00

Adds the pass of a wallet in Apple Wallet (a random serial, made at the first
download) and the devices that registered to hear of its changes, with their
push tokens. No column carries the update tag: it is the newest ledger
transaction on the wallet's accounts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_wallet_passes_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_passes")),
        sa.UniqueConstraint("serial", name=op.f("uq_wallet_passes_serial")),
        sa.UniqueConstraint("wallet_id", name=op.f("uq_wallet_passes_wallet_id")),
    )
    op.create_table(
        "pass_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("device_library_id", sa.String(length=100), nullable=False),
        sa.Column("push_token", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["wallet_passes.id"],
            name=op.f("fk_pass_registrations_pass_id_wallet_passes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_registrations")),
        sa.UniqueConstraint(
            "device_library_id", "pass_id",
            name=op.f("uq_pass_registrations_device_library_id_pass_id"),
        ),
    )
    with op.batch_alter_table("pass_registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pass_registrations_pass_id"), ["pass_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pass_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pass_registrations_pass_id"))
    op.drop_table("pass_registrations")
    op.drop_table("wallet_passes")
