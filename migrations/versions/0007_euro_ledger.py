"""the euro side of the ledger

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-27 20:25:00

Opens the euro accounts of every scheme and shop, adds the point value that
priced a transaction, and prices the point flows written before this revision
at each scheme's current point value, so `loyalty ledger verify` holds for
databases that already have activity.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

EUR = "eur_cents"
OLD_CHECK = "kind NOT IN ('wallet', 'holds') OR balance >= 0"
NEW_CHECK = (
    "kind NOT IN ('wallet', 'holds', 'merchant_prepaid', 'campaign_budget') OR balance >= 0"
)
SCHEME_ACCOUNTS = (
    ("points_liability", "scheme"),
    ("breakage", "scheme"),
    ("municipality", "scheme"),
    ("cash", "cash:stripe"),
    ("cash", "cash:bank"),
)
MERCHANT_ACCOUNTS = ("merchant_position", "merchant_prepaid")


def upgrade() -> None:
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("point_value_cents", sa.Integer(), nullable=True))
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), NEW_CHECK)
    _open_accounts()
    _price_existing_flows()


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
        for kind, owner in SCHEME_ACCOUNTS:
            rows.append(dict(scheme_id=scheme_id, kind=kind, asset=EUR, owner_key=owner,
                             merchant_id=None, balance=0))
    for merchant_id, scheme_id in conn.execute(sa.text("SELECT id, scheme_id FROM merchants")):
        for kind in MERCHANT_ACCOUNTS:
            rows.append(dict(scheme_id=scheme_id, kind=kind, asset=EUR,
                             owner_key=f"merchant:{merchant_id}", merchant_id=merchant_id,
                             balance=0))
    if rows:
        conn.execute(accounts.insert(), rows)


def _price_existing_flows() -> None:
    """Give every earlier transaction that moved points in or out of circulation its euro legs."""
    conn = op.get_bind()
    flows = conn.execute(
        sa.text(
            "SELECT p.transaction_id, t.scheme_id, s.point_value_cents, a.kind, a.merchant_id,"
            " SUM(p.amount) FROM postings p"
            " JOIN accounts a ON a.id = p.account_id"
            " JOIN ledger_transactions t ON t.id = p.transaction_id"
            " JOIN schemes s ON s.id = t.scheme_id"
            " WHERE a.asset = 'points'"
            " GROUP BY p.transaction_id, t.scheme_id, s.point_value_cents, a.kind, a.merchant_id"
        )
    ).all()
    by_txn: dict[int, dict[tuple[str, int | None], int]] = defaultdict(dict)
    values: dict[int, tuple[int, int]] = {}
    for txn_id, scheme_id, point_value, kind, merchant_id, total in flows:
        by_txn[txn_id][(kind, merchant_id)] = int(total)
        values[txn_id] = (scheme_id, point_value)
    account_ids = {
        (scheme_id, kind, owner): account_id
        for account_id, scheme_id, kind, owner in conn.execute(
            sa.text("SELECT id, scheme_id, kind, owner_key FROM accounts WHERE asset = :eur"),
            {"eur": EUR},
        )
    }
    postings = []
    moves: dict[int, int] = defaultdict(int)
    for txn_id, legs in by_txn.items():
        scheme_id, point_value = values[txn_id]
        outstanding = sum(v for (k, _m), v in legs.items() if k in ("wallet", "holds"))
        euro: dict[int, int] = defaultdict(int)
        if outstanding:
            liability = account_ids[(scheme_id, "points_liability", "scheme")]
            euro[liability] += outstanding * point_value
        for (kind, merchant_id), points in legs.items():
            if kind in ("merchant_issued", "merchant_redeemed") and points:
                key = (scheme_id, "merchant_position", f"merchant:{merchant_id}")
                euro[account_ids[key]] += points * point_value
        rest = -sum(euro.values())
        if rest:
            euro[account_ids[(scheme_id, "breakage", "scheme")]] += rest
        euro = {aid: amount for aid, amount in euro.items() if amount}
        if not euro:
            continue
        conn.execute(
            sa.text("UPDATE ledger_transactions SET point_value_cents = :pv WHERE id = :id"),
            {"pv": point_value, "id": txn_id},
        )
        for account_id, amount in euro.items():
            postings.append(
                {"transaction_id": txn_id, "account_id": account_id, "asset": EUR, "amount": amount}
            )
            moves[account_id] += amount
    if postings:
        conn.execute(
            sa.text(
                "INSERT INTO postings (transaction_id, account_id, asset, amount)"
                " VALUES (:transaction_id, :account_id, :asset, :amount)"
            ),
            postings,
        )
    for account_id, amount in moves.items():
        conn.execute(
            sa.text("UPDATE accounts SET balance = balance + :amount WHERE id = :id"),
            {"amount": amount, "id": account_id},
        )


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "DELETE FROM postings WHERE account_id IN (SELECT id FROM accounts WHERE asset = :eur)"
        ),
        {"eur": EUR},
    )
    conn.execute(sa.text("DELETE FROM accounts WHERE asset = :eur"), {"eur": EUR})
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_balance_non_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_accounts_balance_non_negative"), OLD_CHECK)
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_column("point_value_cents")
