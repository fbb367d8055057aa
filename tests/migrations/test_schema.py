"""Alembic owns the schema: the migrations must build exactly what the models say."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from loyalty.infra.db import Base, make_engine
from loyalty.infra.migrate import alembic_config, upgrade
from loyalty.models.ledger import NON_NEGATIVE_KINDS


def test_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


# The revision ids in the order of the chain. A file's number is its place in
# the chain; its revision id is older and never changes, since databases record it.
CHAIN = ["0001", "0002", "0003", "0004", "0005", "0006", "0009", "0014", "0010", "0013",
         "0008", "0007", "0011", "0015", "0016", "0017", "0018", "0019", "0021", "0022",
         "0020", "0031", "0032", "0024", "0023", "0025", "0029", "0028", "0026", "0027",
         "0034", "0035", "0033"]


def test_migration_files_are_numbered_in_revision_order() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    in_order = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in in_order] == CHAIN[: len(in_order)]
    numbers = [Path(r.path).name.split("_", 1)[0] for r in in_order]
    assert numbers == [f"{n:04d}" for n in range(1, len(in_order) + 1)]


def test_a_database_of_the_previous_main_upgrades(empty_database_url: str) -> None:
    """A database at the head before the files were renumbered (revision 0011)
    upgrades to today's head, and its rows stay."""
    upgrade(empty_database_url, "0011")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            # The table as it was then (today's model has columns it lacks).
            table = sa.Table("schemes", sa.MetaData(), autoload_with=conn)
            values = {"slug": "oud", "name": "Oude gemeente", "timezone": "Europe/Brussels",
                      "point_value_cents": 5, "earn_rate": 1, "claim_ttl_seconds": 600,
                      "hold_ttl_seconds": 300, "validity_months": 24, "k_anonymity": 10,
                      "villages": [], "created_at": datetime(2026, 1, 1)}
            conn.execute(sa.insert(table).values(
                {k: v for k, v in values.items() if k in table.c}
            ))
        upgrade(empty_database_url)
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            kept = conn.scalar(sa.text("SELECT name FROM schemes WHERE slug = 'oud'"))
    finally:
        engine.dispose()
    assert current == CHAIN[-1]
    assert kept == "Oude gemeente"


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
    check = checks["ck_accounts_balance_non_negative"]
    assert "balance >= 0" in check
    # Every kind the ledger guards is guarded by the database too (two migrations
    # made on separate branches each rewrite this one check).
    for kind in NON_NEGATIVE_KINDS:
        assert f"'{kind.value}'" in check, kind


def test_upgrade_is_repeatable(database_url: str) -> None:
    """`loyalty db upgrade` on an up-to-date database changes nothing and does not fail."""
    from loyalty.infra.migrate import upgrade

    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert version == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_the_monthly_rollups_are_filled_from_the_daily_ones(empty_database_url: str) -> None:
    """Revision 0035 sums the daily area x age and shop x hour rollups per calendar month."""
    upgrade(empty_database_url, "0034")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO schemes (slug, name, timezone, point_value_cents, earn_rate,"
                " claim_ttl_seconds, hold_ttl_seconds, validity_months, k_anonymity, villages,"
                " created_at) VALUES ('m', 'M', 'Europe/Brussels', 5, 1, 600, 300, 24, 10, '[]',"
                " '2026-01-01')"
            ))
            scheme_id = conn.scalar(sa.text("SELECT id FROM schemes WHERE slug = 'm'"))
            rows = [("2026-03-01", 7, 2, 1000), ("2026-03-31", 7, 3, 500),
                    ("2026-04-01", 7, 1, 250), ("2026-03-15", 8, 4, 40)]
            for day, shop, purchases, cents in rows:
                conn.execute(sa.text(
                    "INSERT INTO analytics_rollup_area_age (scheme_id, day, area, age_band,"
                    " merchant_id, purchases, amount_cents) VALUES (:s, :d, 'village:X', '25-34',"
                    " :m, :p, :c)"
                ), {"s": scheme_id, "d": datetime.fromisoformat(day).date(), "m": shop,
                    "p": purchases, "c": cents})
                conn.execute(sa.text(
                    "INSERT INTO analytics_rollup_shop_hour (scheme_id, day, merchant_id, hour,"
                    " sector, weekday, purchases, amount_cents, points) VALUES (:s, :d, :m, 10,"
                    " '47.24', 0, :p, :c, :p)"
                ), {"s": scheme_id, "d": datetime.fromisoformat(day).date(), "m": shop,
                    "p": purchases, "c": cents})
        upgrade(empty_database_url)
        with engine.connect() as conn:
            monthly = conn.execute(sa.text(
                "SELECT month, merchant_id, purchases, amount_cents"
                " FROM analytics_rollup_area_age_month WHERE scheme_id = :s"
                " ORDER BY month, merchant_id"
            ), {"s": scheme_id}).all()
            hours = conn.execute(sa.text(
                "SELECT month, merchant_id, weekday, hour, purchases, amount_cents, points"
                " FROM analytics_rollup_shop_hour_month WHERE scheme_id = :s"
                " ORDER BY month, merchant_id"
            ), {"s": scheme_id}).all()
    finally:
        engine.dispose()
    assert [(str(m)[:10], *rest) for m, *rest in hours] == [
        ("2026-03-01", 7, 0, 10, 5, 1500, 5), ("2026-03-01", 8, 0, 10, 4, 40, 4),
        ("2026-04-01", 7, 0, 10, 1, 250, 1),
    ]
    assert [(str(m)[:10], shop, p, c) for m, shop, p, c in monthly] == [
        ("2026-03-01", 7, 5, 1500), ("2026-03-01", 8, 4, 40), ("2026-04-01", 7, 1, 250),
    ]
