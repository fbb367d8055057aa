"""a phone's wallets of several towns, a phone's card number, the bounds of a shop's earn rate

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 18:00:00

A wallet may belong to a group: the wallets one phone keeps, one per scheme,
so that one recovery code or e-mail address opens them all on a new phone.
A phone's wallet may get a card number, the kind printed cards carry, for the
till to scan.
A scheme gets the highest earn rate a shop owner may choose (the scheme's own
rate is the lowest).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_groups")),
    )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("card_number", sa.String(length=12), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_wallets_card_number"), ["card_number"]
        )
        batch_op.create_index(batch_op.f("ix_wallets_group_id"), ["group_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_wallets_group_id_wallet_groups"), "wallet_groups", ["group_id"], ["id"]
        )
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("earn_rate_max", sa.Integer(), server_default="10", nullable=False)
        )
    # No shop's sales change: the maximum starts at least at the scheme's own
    # rate and at the highest rate a shop of the scheme already gives.
    op.execute("UPDATE schemes SET earn_rate_max = earn_rate WHERE earn_rate > earn_rate_max")
    highest = "(SELECT MAX(m.earn_rate) FROM merchants m WHERE m.scheme_id = schemes.id)"
    op.execute(  # a constant subquery, no input: noqa for the string-built SQL
        f"UPDATE schemes SET earn_rate_max = {highest} WHERE {highest} > earn_rate_max"  # noqa: S608
    )
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_schemes_earn_rate_max_above_min"), "earn_rate_max >= earn_rate"
        )


def downgrade() -> None:
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_schemes_earn_rate_max_above_min"), type_="check")
        batch_op.drop_column("earn_rate_max")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_wallets_group_id_wallet_groups"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_wallets_group_id"))
        batch_op.drop_constraint(batch_op.f("uq_wallets_card_number"), type_="unique")
        batch_op.drop_column("card_number")
        batch_op.drop_column("group_id")
    op.drop_table("wallet_groups")
