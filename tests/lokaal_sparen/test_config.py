"""Configuration: SQLite defaults, the instance secret, .env files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lokaal_sparen import config
from loyalty.infra.db import make_engine


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_default_database_is_sqlite_in_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config.database_url(str(tmp_path)) == f"sqlite:///{tmp_path / 'loyalty.db'}"


def test_secret_key_is_generated_once_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.secret_key(str(tmp_path))
    assert len(first) == 64
    assert config.secret_key(str(tmp_path)) == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert config.secret_key(str(tmp_path)) == "from-the-environment"


def test_dotenv_file_configures_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "from-dotenv.db"
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{db}\nSECRET_KEY=dotenv-secret\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "-m", "lokaal_sparen", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_postgresql_urls_use_psycopg_3() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/test")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_a_read_replica_only_when_database_replica_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lokaal_sparen.app import create_app

    monkeypatch.setenv("SECRET_KEY", "test-secret-key")  # none written to the instance folder
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    assert config.from_environment(str(tmp_path))["DATABASE_REPLICA_URL"] is None
    plain = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert "loyalty.replica" not in plain.extensions
    replica = "postgresql://reports@replica.internal/loyalty"
    monkeypatch.setenv("DATABASE_REPLICA_URL", replica)
    assert config.from_environment(str(tmp_path))["DATABASE_REPLICA_URL"] == replica
    # Wiring only: the app is made without reaching the replica.
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    engine = app.extensions["loyalty.replica"].engine
    assert engine.url.host == "replica.internal" and engine.dialect.driver == "psycopg"
    for made in (plain, app):
        made.extensions["loyalty.engine"].dispose()
    engine.dispose()
