"""open data: a scheme may publish its released statistics

Revision ID: 0031
Revises: 0020
Create Date: 2026-12-05 20:30:00

A flag per scheme: whether /open-data/<slug> publishes the released tables
(off until the municipality turns it on in its settings).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schemes") as batch_op:
        batch_op.add_column(
            sa.Column("open_data", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("schemes") as batch_op:
        batch_op.drop_column("open_data")
