"""`loyalty check`: every misconfiguration named in plain words, and a clean bill
for a server that is ready."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lokaal_sparen.production_check import run_checks
from tests.lokaal_sparen.helpers import run

NOW = datetime.now(UTC)
STRONG = "k3J9vQ2mX8pL5wZ1rT7yB4nC6hF0dS2aG9eU3iO"


@pytest.fixture
def ready(database_url: str, tmp_path: Path) -> dict[str, Any]:
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "last-night.backup").write_bytes(b"PGDMP")
    return {
        "PUBLIC_URL": "https://sparen.sint-gillis-waas.be", "TRUSTED_PROXIES": 1,
        "SECRET_KEY": STRONG, "MAIL_SERVER": "smtp.sint-gillis-waas.be",
        "STRIPE_SECRET_KEY": None, "STRIPE_WEBHOOK_SECRET": None,
        "DATABASE_URL": database_url, "BACKUP_DIR": str(backups),
    }


def test_a_server_that_is_ready_has_no_problems(ready: dict[str, Any]) -> None:
    findings = run_checks(ready, NOW)
    assert [f.text for f in findings if f.problem] == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"PUBLIC_URL": None}, "PUBLIC_URL is not set"),
        ({"PUBLIC_URL": "http://sparen.example.be"}, "is not https"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "a" * 40}, "SECRET_KEY is weak"),
        ({"MAIL_SERVER": None}, "MAIL_SERVER is not set"),
        ({"STRIPE_SECRET_KEY": "sk_live_1"}, "STRIPE_WEBHOOK_SECRET is not"),
        ({"STRIPE_WEBHOOK_SECRET": "whsec_1"}, "set both, or neither"),
        ({"STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"}, "a test key"),
        ({"BACKUP_DIR": None}, "there are no backups"),
    ],
)
def test_each_misconfiguration_is_named(
    ready: dict[str, Any], change: dict[str, Any], says: str
) -> None:
    problems = [f.text for f in run_checks({**ready, **change}, NOW) if f.problem]
    assert len(problems) == 1 and says in problems[0], problems


def test_an_old_or_missing_backup_and_an_unmigrated_database(
    ready: dict[str, Any], tmp_path: Path, empty_database_url: str
) -> None:
    old = Path(ready["BACKUP_DIR"]) / "last-night.backup"
    stamp = (NOW - timedelta(hours=30)).timestamp()
    os.utime(old, (stamp, stamp))
    problems = [f.text for f in run_checks(ready, NOW) if f.problem]
    assert problems == ["The last backup (last-night.backup) is 30 hours old: the nightly "
                        "backup did not run."]
    empty = tmp_path / "empty"
    empty.mkdir()
    problems = [f.text for f in run_checks({**ready, "BACKUP_DIR": str(empty)}, NOW)
                if f.problem]
    assert len(problems) == 1 and "There is no backup" in problems[0]
    unmigrated = {**ready, "DATABASE_URL": empty_database_url, "BACKUP_DIR": str(empty)}
    problems = [f.text for f in run_checks(unmigrated, NOW) if f.problem]
    assert "The database has no tables yet: run loyalty db upgrade." in problems


def test_the_command_fails_until_the_server_is_ready(database_url: str, tmp_path: Path) -> None:
    bad = run(["check"], database_url, extra_env={"PUBLIC_URL": "http://sparen.example.be"})
    assert bad.returncode == 1
    assert "PROBLEM  PUBLIC_URL (http://sparen.example.be) is not https" in bad.stdout
    assert bad.stdout.strip().splitlines()[-1].endswith("not ready for production yet")
    backups = tmp_path / "backups"
    made = run(["backup", "--to", str(backups / "tonight.backup")], database_url)
    assert made.returncode == 0, made.stderr
    good = run(["check"], database_url, extra_env={
        "PUBLIC_URL": "https://sparen.example.be", "TRUSTED_PROXIES": "1",
        "SECRET_KEY": STRONG, "MAIL_SERVER": "smtp.example.be", "BACKUP_DIR": str(backups),
    })
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.strip().splitlines()[-1].startswith("ready for production")
