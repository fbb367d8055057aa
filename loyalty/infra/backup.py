"""Backups of the whole database, and restoring them.

SQLite: the online backup API copies the database in one step under a read
transaction, so the copy is one consistent moment even while the server writes
(WAL mode lets the writers go on). PostgreSQL: ``pg_dump`` in its custom format,
which reads in one snapshot; ``pg_restore`` loads it in a single transaction,
so a restore that fails leaves the database as it was.

A backup knows what it is from its first bytes ("SQLite format 3", "PGDMP"):
restoring one into the other kind of database is refused in plain words.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # nosec B404
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from loyalty.errors import Conflict, InvalidInput
from loyalty.infra.db import make_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Tables whose rows make a database "in use": restoring over them needs --force.
IN_USE = ("schemes", "ledger_transactions", "staff_users")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    kind: str  # "sqlite" or "postgresql"
    size: int  # bytes


def kind_of_url(url: str) -> str:
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise InvalidInput(f"backups know SQLite and PostgreSQL, not {url.split(':')[0]}",
                       code="unknown_database")


def kind_of_file(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise InvalidInput(f"{path} is not a backup of this system", code="not_a_backup")


def _sqlite_path(url: str) -> Path:
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("an in-memory database has nothing to back up", code="no_file")
    return Path(database)


def _libpq(url: str) -> str:
    """The URL as pg_dump and pg_restore read it (no SQLAlchemy driver name)."""
    return "postgresql://" + url.split("://", 1)[1]


def _run(command: list[str]) -> None:
    """pg_dump or pg_restore, from an argument list (no shell)."""
    # Argument lists, no shell: the URL and paths reach the tools as they are.
    done = subprocess.run(  # noqa: S603  # nosec B603
        command, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise Conflict(f"{command[0]} failed: {done.stderr.strip()[:500]}", code="tool_failed")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Conflict(f"{name} is not installed (Debian: apt install postgresql-client)",
                       code="tool_missing")
    return found


def backup(url: str, target: Path) -> BackupInfo:
    """Write a consistent backup of the database of ``url`` to ``target``
    (replaced only once the new backup is complete)."""
    kind = kind_of_url(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written next to the target, then renamed: a crash never leaves half a backup
    # under the backup's name.
    handle, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    partial = Path(partial_name)
    try:
        if kind == "sqlite":
            source = sqlite3.connect(_sqlite_path(url))
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # every page in one step: one consistent moment
            finally:
                copy.close()
                source.close()
        else:
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  f"--file={partial}", _libpq(url)])
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo(target, kind, target.stat().st_size)


def in_use(url: str) -> bool:
    """True when the database has any shop, scheme, staff member or ledger row."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            for table in IN_USE:
                if table in tables and conn.execute(
                    sa.select(sa.literal(1)).select_from(sa.table(table)).limit(1)
                ).first():
                    return True
    finally:
        engine.dispose()
    return False


def restore(url: str, source: Path, *, force: bool = False) -> str:
    """Restore ``source`` into the database of ``url``; returns its kind.

    Refuses (Conflict ``database_in_use``) a database that holds data unless
    ``force``; InvalidInput when the file is no backup or of the other kind of
    database. The server should be stopped while a backup is restored.
    """
    kind = kind_of_url(url)
    if not source.is_file():
        raise InvalidInput(f"{source} does not exist", code="no_such_file")
    if kind_of_file(source) != kind:
        raise InvalidInput(f"{source} is a {kind_of_file(source)} backup; DATABASE_URL is "
                           f"{kind}", code="wrong_kind")
    if not force and in_use(url):
        raise Conflict("the database holds data; restore with --force to replace it",
                       code="database_in_use")
    if kind == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        backup_db = sqlite3.connect(source)
        live = sqlite3.connect(path)
        try:
            backup_db.backup(live)  # replaces every page of the live database
        finally:
            live.close()
            backup_db.close()
    else:
        _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--clean", "--if-exists",
              "--single-transaction", f"--dbname={_libpq(url)}", str(source)])
    return kind


@contextmanager
def scratch_database(url: str, folder: Path) -> Iterator[str]:
    """A new, empty database of the same kind as ``url``, dropped afterwards: where
    a backup is restored to prove that it restores.

    SQLite: a file in ``folder``. PostgreSQL: a database on the same server,
    named after the live one (the role needs CREATEDB, as the install script
    gives it).
    """
    if kind_of_url(url) == "sqlite":
        # A check cut short (the worker killed) left its file: nobody uses it now,
        # since one worker at a time runs the backup.
        for stale in folder.glob(".restore-check-*"):
            stale.unlink(missing_ok=True)
        handle, name = tempfile.mkstemp(prefix=".restore-check-", suffix=".db", dir=folder)
        os.close(handle)
        try:
            yield f"sqlite:///{name}"
        finally:
            # The database, its journal files, and the writers' queue lock file
            # (loyalty.infra.db.QueuedWriterConnection).
            for leftover in (name, f"{name}-wal", f"{name}-shm", f"{name}-writers"):
                Path(leftover).unlink(missing_ok=True)
        return
    live = sa.engine.make_url(url)
    scratch = f"{live.database}_restore_check"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    # Identifiers cannot be bound parameters; the name is the live database's
    # own name (from the operator's DATABASE_URL) with a fixed suffix, quoted.
    quoted = admin.dialect.identifier_preparer.quote(scratch)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
        try:
            yield live.set(database=scratch).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        admin.dispose()
