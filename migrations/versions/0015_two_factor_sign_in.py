"""two-factor sign-in for staff

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 00:30:00

A TOTP secret per staff user (with the step of the last code accepted, so a
code is good once), one-time recovery codes and browsers remembered for 30
days, both stored as hashes. Nobody is enrolled yet: admins and shop owners
enrol at their next sign-in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enrolled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"],
            name=op.f("fk_staff_recovery_codes_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_codes")),
        sa.UniqueConstraint(
            "user_id", "code_hash", name=op.f("uq_staff_recovery_codes_user_id_code_hash")
        ),
    )
    with op.batch_alter_table("staff_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_recovery_codes_user_id"), ["user_id"])
    op.create_table(
        "staff_trusted_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"],
            name=op.f("fk_staff_trusted_devices_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_trusted_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_trusted_devices_token_hash")),
    )
    with op.batch_alter_table("staff_trusted_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_trusted_devices_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("staff_trusted_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_trusted_devices_user_id"))
    op.drop_table("staff_trusted_devices")
    with op.batch_alter_table("staff_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_recovery_codes_user_id"))
    op.drop_table("staff_recovery_codes")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enrolled_at")
        batch_op.drop_column("totp_secret")
