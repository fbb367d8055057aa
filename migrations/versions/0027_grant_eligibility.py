"""grants for code holders and villages, and the social tariff

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-05 20:30:00

A grant may name villages whose residents may claim it, or have one-time
codes (kept as hashes); the social service's one-time entitlement codes; the
scheme's social-tariff settings; a wallet's monthly social credit once per
month (unique wallet and month); the social-tariff budget account never below
zero.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0025"
branch_labels = None
depends_on = None

OLD_CHECK = (
    "kind NOT IN ('wallet', 'holds', 'merchant_prepaid', 'campaign_budget', 'grant_budget')"
    " OR balance >= 0"
)
NEW_CHECK = (
    "kind NOT IN ('wallet', 'holds', 'merchant_prepaid', 'campaign_budget', 'grant_budget',"
    " 'social_budget') OR balance >= 0"
)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), NEW_CHECK)
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("villages", sa.JSON(), server_default="[]",
                                      nullable=False))
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("social_monthly_cents", sa.Integer(), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("social_multiplier_pct", sa.Integer(),
                                      server_default="100", nullable=False))
        batch_op.create_check_constraint(op.f("ck_schemes_social_monthly_not_negative"),
                                         "social_monthly_cents >= 0")
        batch_op.create_check_constraint(op.f("ck_schemes_social_multiplier_at_least_one"),
                                         "social_multiplier_pct >= 100")
    with op.batch_alter_table("euro_credits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("social_month", sa.Date(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_euro_credits_wallet_id_social_month"), ["wallet_id", "social_month"]
        )
    op.create_table(
        "grant_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_grant_codes_grant_id_grants")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["wallets.id"], name=op.f("fk_grant_codes_used_by_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_grant_codes_code_hash")),
    )
    with op.batch_alter_table("grant_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grant_codes_grant_id"), ["grant_id"], unique=False)
    op.create_table(
        "social_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("entitled_until", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_social_codes_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["wallets.id"], name=op.f("fk_social_codes_used_by_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_social_codes_code_hash")),
    )
    with op.batch_alter_table("social_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_codes_scheme_id"), ["scheme_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_social_codes_used_by"), ["used_by"], unique=False)


def downgrade() -> None:
    op.execute(sa.text(
        "DELETE FROM postings WHERE account_id IN (SELECT id FROM accounts"
        " WHERE kind IN ('social_budget', 'social_issued'))"
    ))
    op.execute(sa.text("DELETE FROM accounts WHERE kind IN ('social_budget', 'social_issued')"))
    op.execute(sa.text("DELETE FROM euro_credits WHERE social_month IS NOT NULL"))
    with op.batch_alter_table("social_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_codes_used_by"))
        batch_op.drop_index(batch_op.f("ix_social_codes_scheme_id"))
    op.drop_table("social_codes")
    with op.batch_alter_table("grant_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grant_codes_grant_id"))
    op.drop_table("grant_codes")
    with op.batch_alter_table("euro_credits", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_euro_credits_wallet_id_social_month"),
                                 type_="unique")
        batch_op.drop_column("social_month")
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_schemes_social_multiplier_at_least_one"), type_="check")
        batch_op.drop_constraint(op.f("ck_schemes_social_monthly_not_negative"), type_="check")
        batch_op.drop_column("social_multiplier_pct")
        batch_op.drop_column("social_monthly_cents")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_column("villages")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), OLD_CHECK)
