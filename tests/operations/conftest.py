"""The scheduled jobs' tests run on a database of their own: the worker acts on
everything in it (every scheme's settlement, every wallet's expiry), and its
run history must start empty."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from lokaal_sparen.app import create_app
from loyalty.infra.migrate import upgrade
from tests.conftest import Mailbox, PublicHostClient


@pytest.fixture
def own_database(new_empty_database: Callable[[], str]) -> str:
    url = new_empty_database()
    upgrade(url)
    return url


@pytest.fixture
def ops_app(own_database: str, tmp_path: Path,
            smtp_server: tuple[str, int, Mailbox]) -> Iterator[Flask]:
    host, port, _ = smtp_server
    backups = tmp_path / "backups"
    backups.mkdir()
    app = create_app({
        "TESTING": True, "DATABASE_URL": own_database, "SECRET_KEY": "test-secret-key",
        "PUBLIC_URL": "https://sparen.example.be", "BACKUP_DIR": str(backups),
        "MAIL_SERVER": host, "MAIL_PORT": port, "OPS_EMAIL": "",
    })
    app.test_client_class = PublicHostClient
    yield app
    app.extensions["loyalty.engine"].dispose()


@pytest.fixture
def ops_mailbox(smtp_server: tuple[str, int, Mailbox]) -> Mailbox:
    return smtp_server[2]
