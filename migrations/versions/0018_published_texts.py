"""published texts: privacy notice, scheme rules and shop terms, and a contact address

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 10:00:00

What a town must publish, per scheme, kind and language, as versions that are
only added (the newest is shown; one without a body means the default text
generated from the scheme's settings). The scheme gets the address for
questions about personal data that those texts name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_email", sa.String(length=254), nullable=True))
    op.create_table(
        "published_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_by_label", sa.String(length=254), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('privacy', 'rules', 'shop_terms')",
            name=op.f("ck_published_texts_kind_known"),
        ),
        sa.CheckConstraint(
            "language IN ('nl', 'fr', 'en')", name=op.f("ck_published_texts_language_known")
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_published_texts_version_positive")),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_published_texts_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["staff_users.id"],
            name=op.f("fk_published_texts_changed_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_texts")),
        sa.UniqueConstraint(
            "scheme_id", "kind", "language", "version",
            name=op.f("uq_published_texts_scheme_id_kind_language_version"),
        ),
    )


def downgrade() -> None:
    op.drop_table("published_texts")
    with op.batch_alter_table("schemes", schema=None) as batch_op:
        batch_op.drop_column("contact_email")
