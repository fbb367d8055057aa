"""Alembic environment: the URL comes from loyalty's configuration."""

from __future__ import annotations

from alembic import context

import loyalty.models  # noqa: F401  (registers every table on the metadata)
from loyalty.infra.db import Base, UTCDateTime, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by copy, drop and rename; with foreign
            # keys on, dropping a table that other rows point at fails. The
            # pragma only works outside a transaction, so it goes to the driver
            # before the first BEGIN; the check after the migrations proves
            # that nothing was left dangling.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        _run(conn)
        if sqlite:
            dangling = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA foreign_key_check"
            ).fetchall()
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
            if dangling:
                raise RuntimeError(f"migration left dangling foreign keys: {dangling[:5]}")
    engine.dispose()


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations stay free of project imports: UTCDateTime is a DateTime in the database.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `loyalty db upgrade`")
run_migrations_online()
