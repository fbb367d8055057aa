"""town money: euros in the wallet, and grants from the municipality

Revision ID: 0020
Revises: 0022
Create Date: 2026-12-05 18:20:00

Opens the accounts of the shoppers' euros (asset "euros") for every scheme
and shop, lets a spend code hold euros beside points, lets a grant's budget
account never go below zero, and adds grant programmes and the parts of a
wallet's euros (where each came from, when it expires). A wallet's own euro
account is opened at its first euro.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0022"
branch_labels = None
depends_on = None

OLD_CHECK = (
    "kind NOT IN ('wallet', 'holds', 'merchant_prepaid', 'campaign_budget') OR balance >= 0"
)
NEW_CHECK = (
    "kind NOT IN ('wallet', 'holds', 'merchant_prepaid', 'campaign_budget', 'grant_budget')"
    " OR balance >= 0"
)
SCHEME_ACCOUNTS = (
    ("euros_liability", "eur_cents"),
    ("euros_issued", "euros"),
    ("breakage", "euros"),
    ("holds", "euros"),
)
OLD_SPEND_CHECK = (
    "(points > 0 AND voucher_id IS NULL) OR (points = 0 AND voucher_id IS NOT NULL)"
)
NEW_SPEND_CHECK = (
    "(points >= 0 AND euro_cents >= 0 AND points + euro_cents > 0 AND voucher_id IS NULL)"
    " OR (points = 0 AND euro_cents = 0 AND voucher_id IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), NEW_CHECK)
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("budget_cents", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("who", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_grants_amount_positive")),
        sa.CheckConstraint(
            "budget_cents >= amount_cents", name=op.f("ck_grants_budget_covers_one")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_grants_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_grants_created_by_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_grants_scheme_id_schemes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grants_scheme_id"), ["scheme_id"], unique=False)
    op.create_table(
        "euro_credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("wallet_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("credited_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_euro_credits_amount_positive")),
        sa.CheckConstraint(
            "expires_at > credited_at", name=op.f("ck_euro_credits_expires_after_credit")
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_euro_credits_grant_id_grants")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_euro_credits_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["ledger_transactions.id"],
            name=op.f("fk_euro_credits_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"], ["wallets.id"], name=op.f("fk_euro_credits_wallet_id_wallets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_euro_credits")),
        sa.UniqueConstraint(
            "grant_id", "wallet_id", name=op.f("uq_euro_credits_grant_id_wallet_id")
        ),
    )
    with op.batch_alter_table("euro_credits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_euro_credits_grant_id"), ["grant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_euro_credits_scheme_id"), ["scheme_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_euro_credits_wallet_id"), ["wallet_id"], unique=False)
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("euro_cents", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_constraint(op.f("ck_redemptions_points_or_voucher"), type_="check")
        batch_op.create_check_constraint(op.f("ck_redemptions_points_or_voucher"),
                                         NEW_SPEND_CHECK)
    _open_accounts()


def _open_accounts() -> None:
    conn = op.get_bind()
    accounts = sa.table(
        "accounts",
        sa.column("scheme_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("asset", sa.String),
        sa.column("owner_key", sa.String),
        sa.column("merchant_id", sa.Integer),
        sa.column("balance", sa.BigInteger),
    )
    rows = []
    for (scheme_id,) in conn.execute(sa.text("SELECT id FROM schemes")):
        for kind, asset in SCHEME_ACCOUNTS:
            rows.append(dict(scheme_id=scheme_id, kind=kind, asset=asset, owner_key="scheme",
                             merchant_id=None, balance=0))
    for merchant_id, scheme_id in conn.execute(sa.text("SELECT id, scheme_id FROM merchants")):
        rows.append(dict(scheme_id=scheme_id, kind="merchant_redeemed", asset="euros",
                         owner_key=f"merchant:{merchant_id}", merchant_id=merchant_id,
                         balance=0))
    if rows:
        conn.execute(accounts.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_redemptions_points_or_voucher"), type_="check")
        batch_op.create_check_constraint(op.f("ck_redemptions_points_or_voucher"),
                                         OLD_SPEND_CHECK)
        batch_op.drop_column("euro_cents")
    op.execute(sa.text(
        "DELETE FROM postings WHERE account_id IN (SELECT id FROM accounts"
        " WHERE asset = 'euros' OR kind IN ('euros_liability', 'grant_budget'))"
    ))
    op.execute(sa.text(
        "DELETE FROM accounts WHERE asset = 'euros' OR kind IN ('euros_liability', 'grant_budget')"
    ))
    with op.batch_alter_table("euro_credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_euro_credits_wallet_id"))
        batch_op.drop_index(batch_op.f("ix_euro_credits_scheme_id"))
        batch_op.drop_index(batch_op.f("ix_euro_credits_grant_id"))
    op.drop_table("euro_credits")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_scheme_id"))
    op.drop_table("grants")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), OLD_CHECK)
