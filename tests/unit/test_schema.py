"""Alembic owns the schema: the migrations must build exactly what the models say."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from loyalty.db import Base, make_engine
from loyalty.migrate import alembic_config


def test_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_the_wallet_balance_check_is_in_the_database(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        checks = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints("accounts")}
    finally:
        engine.dispose()
    assert "balance >= 0" in checks["ck_accounts_balance_non_negative"]


def test_upgrade_is_repeatable(database_url: str) -> None:
    """`loyalty db upgrade` on an up-to-date database changes nothing and does not fail."""
    from loyalty.migrate import upgrade

    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert version == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
