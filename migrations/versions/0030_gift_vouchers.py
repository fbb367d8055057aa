"""gift vouchers: bought by Stripe or by company orders, redeemed once

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 20:10:00

Adds gift vouchers and companies' orders of them, the scheme's allowed
voucher amounts, the unique Checkout Session and voucher keys of a wallet's
euro credits, and lets the scheme's vouchers account (money paid for codes
nobody redeemed yet) never go below zero. The account itself is opened at
the first voucher sold.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

# As the social tariff's migration (0027_grant_eligibility) left it, and the same
# with the vouchers account.
OLD_CHECK = (
    "kind NOT IN ('wallet', 'holds', 'merchant_prepaid', 'campaign_budget', 'grant_budget',"
    " 'social_budget') OR balance >= 0"
)
NEW_CHECK = (
    "kind NOT IN ('wallet', 'holds', 'merchant_prepaid', 'campaign_budget', 'grant_budget',"
    " 'social_budget', 'vouchers') OR balance >= 0"
)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), NEW_CHECK)
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "voucher_amounts_cents", sa.JSON(), server_default=sa.text("'[1000, 2500, 5000]'"),
            nullable=False,
        ))
    op.create_table(
        "gift_voucher_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=False),
        sa.Column("vat_number", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("bank_reference", sa.String(length=200), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("amount_cents > 0",
                           name=op.f("ck_gift_voucher_orders_amount_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_gift_voucher_orders_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["staff_users.id"],
            name=op.f("fk_gift_voucher_orders_recorded_by_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_gift_voucher_orders_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["ledger_transactions.id"],
            name=op.f("fk_gift_voucher_orders_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_voucher_orders")),
        sa.UniqueConstraint("reference", name=op.f("uq_gift_voucher_orders_reference")),
    )
    with op.batch_alter_table("gift_voucher_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gift_voucher_orders_scheme_id"), ["scheme_id"],
                              unique=False)
    op.create_table(
        "gift_vouchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("stripe_session_id", sa.String(length=200), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("recipient_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(), nullable=True),
        sa.Column("redeemed_wallet_id", sa.Integer(), nullable=True),
        sa.Column("redeemed_merchant_id", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_gift_vouchers_amount_positive")),
        sa.CheckConstraint("expires_at > created_at",
                           name=op.f("ck_gift_vouchers_expires_after_creation")),
        sa.ForeignKeyConstraint(["order_id"], ["gift_voucher_orders.id"],
                                name=op.f("fk_gift_vouchers_order_id_gift_voucher_orders")),
        sa.ForeignKeyConstraint(["redeemed_merchant_id"], ["merchants.id"],
                                name=op.f("fk_gift_vouchers_redeemed_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["redeemed_wallet_id"], ["wallets.id"],
                                name=op.f("fk_gift_vouchers_redeemed_wallet_id_wallets")),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"],
                                name=op.f("fk_gift_vouchers_scheme_id_schemes")),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["ledger_transactions.id"],
            name=op.f("fk_gift_vouchers_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_vouchers")),
        sa.UniqueConstraint("code", name=op.f("uq_gift_vouchers_code")),
        sa.UniqueConstraint("stripe_session_id", name=op.f("uq_gift_vouchers_stripe_session_id")),
    )
    with op.batch_alter_table("gift_vouchers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gift_vouchers_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_gift_vouchers_scheme_id"), ["scheme_id"],
                              unique=False)
    with op.batch_alter_table("euro_credits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stripe_session_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("gift_voucher_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_euro_credits_stripe_session_id"), ["stripe_session_id"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_euro_credits_gift_voucher_id"), ["gift_voucher_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_euro_credits_gift_voucher_id_gift_vouchers"), "gift_vouchers",
            ["gift_voucher_id"], ["id"],
        )


def downgrade() -> None:
    op.execute(sa.text(
        "DELETE FROM postings WHERE account_id IN (SELECT id FROM accounts"
        " WHERE kind = 'vouchers')"
    ))
    op.execute(sa.text("DELETE FROM accounts WHERE kind = 'vouchers'"))
    with op.batch_alter_table("euro_credits", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_euro_credits_gift_voucher_id_gift_vouchers"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_euro_credits_gift_voucher_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_euro_credits_stripe_session_id"), type_="unique")
        batch_op.drop_column("gift_voucher_id")
        batch_op.drop_column("stripe_session_id")
    with op.batch_alter_table("gift_vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gift_vouchers_scheme_id"))
        batch_op.drop_index(batch_op.f("ix_gift_vouchers_order_id"))
    op.drop_table("gift_vouchers")
    with op.batch_alter_table("gift_voucher_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gift_voucher_orders_scheme_id"))
    op.drop_table("gift_voucher_orders")
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_column("voucher_amounts_cents")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), OLD_CHECK)
