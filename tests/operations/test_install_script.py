"""scripts/install-server.sh as CI can run it: a trial install under a throw-away
prefix against a scratch database of the kind under test (PostgreSQL with
TEST_DATABASE_URL, else SQLite), the services started directly (no systemd under
--prefix), then the same script again from newer code: an upgrade in place."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from loyalty.infra.db import make_engine
from loyalty.infra.migrate import alembic_config
from tests.conftest import ROOT, free_port

SERVICES = ("web", "worker", "caddy")
# What a checkout carries and the copy for the second run leaves out (as the script does).
NOT_SOURCE = (".git", ".venv", "build", "instance", ".pytest_cache", ".mypy_cache",
              ".ruff_cache", ".hypothesis", "test-artifacts")


def install(script: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """Run the install script; fail the test with its whole output if it fails."""
    # The services must import the installed copy only, not the code under test.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        ["bash", str(script), *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def settings(env_file: Path) -> dict[str, str]:
    lines = env_file.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def running(pid: int) -> bool:
    """Alive, and not a zombie that its new parent has not reaped yet."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return re.search(r"^State:\s*Z", status, re.MULTILINE) is None


def pids(prefix: Path) -> dict[str, int]:
    run_dir = prefix / "run" / "lokaal-sparen"
    return {name: int((run_dir / f"{name}.pid").read_text()) for name in SERVICES
            if (run_dir / f"{name}.pid").exists()}


def stop(prefix: Path) -> None:
    """Stop what the script started (it leaves the services running on purpose)."""
    started = pids(prefix)
    for pid in started.values():
        if running(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 40
    while any(running(pid) for pid in started.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in started.values():
        if running(pid):
            os.kill(pid, signal.SIGKILL)


def answers_ok(url: str) -> None:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    assert response.json() == {"status": "ok"}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head
    return head


def scalar(database_url: str, sql: str) -> object:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def check_files(prefix: Path, port: int, public_url: str, tmp_path: Path) -> None:
    """The units, the Caddyfile and the logrotate file, checked by their own tools."""
    units = prefix / "etc" / "systemd" / "system"
    web, worker = units / "lokaal-sparen-web.service", units / "lokaal-sparen-worker.service"
    venv_loyalty = prefix / "opt" / "lokaal-sparen" / "venv" / "bin" / "loyalty"
    assert (f"ExecStart={venv_loyalty} serve --host 127.0.0.1 --port {port} --workers 1\n"
            in web.read_text())
    assert f"ExecStart={venv_loyalty} worker\n" in worker.read_text()
    for unit in (web, worker):
        assert f"EnvironmentFile={prefix}/etc/lokaal-sparen/env\n" in unit.read_text()
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(["systemd-analyze", "verify", str(web), str(worker)],
                                  capture_output=True, text=True, timeout=60, check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        # Unknown keys and bad values are only warnings: none may name our units.
        assert "lokaal-sparen" not in verified.stdout + verified.stderr

    caddyfile = prefix / "etc" / "caddy" / "Caddyfile"
    assert f"{public_url} {{" in caddyfile.read_text()
    assert f"reverse_proxy 127.0.0.1:{port}" in caddyfile.read_text()
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy package is needed (scripts/test.sh installs it)"
    scratch = tmp_path / "caddy-validate"
    validated = subprocess.run(
        [caddy, "validate", "--config", str(caddyfile), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "HOME": str(scratch), "XDG_DATA_HOME": str(scratch),
             "XDG_CONFIG_HOME": str(scratch)},
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr

    logrotate_file = prefix / "etc" / "logrotate.d" / "lokaal-sparen"
    assert f"{prefix}/var/log/lokaal-sparen/*.log" in logrotate_file.read_text()
    if shutil.which("logrotate"):
        rotated = subprocess.run(
            ["logrotate", "--debug", "--state", str(tmp_path / "logrotate.state"),
             str(logrotate_file)],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr


def copy_of_checkout(target: Path) -> Path:
    """This checkout as a later `git pull` might leave it: one module changed."""
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*NOT_SOURCE, "*.egg-info",
                                                                "__pycache__"))
    with (target / "loyalty" / "__init__.py").open("a") as module:
        module.write('\nRELEASE_MARK = "the second release"\n')
    return target


def test_install_then_upgrade_in_place(
    tmp_path: Path, new_empty_database: Callable[[], str]
) -> None:
    database_url = new_empty_database()
    prefix = tmp_path / "server"
    port = free_port()
    proxy_port = free_port()
    while proxy_port == port:
        proxy_port = free_port()
    public_url = f"http://127.0.0.1:{proxy_port}"
    env_file = prefix / "etc" / "lokaal-sparen" / "env"
    venv_python = prefix / "opt" / "lokaal-sparen" / "venv" / "bin" / "python"
    loyalty = prefix / "usr" / "local" / "bin" / "loyalty"
    try:
        first = install(ROOT / "scripts" / "install-server.sh", "--prefix", prefix,
                        "--public-url", public_url, "--database-url", database_url,
                        "--port", port, "--workers", 1)
        lines = first.stdout.strip().splitlines()
        assert lines[0].startswith("==> installing Lokaal Sparen")
        assert lines[-1].startswith("Lokaal Sparen ") and " installed for " in lines[-1]
        if not Path("/run/systemd/system").exists():
            assert "systemd is not running here" in first.stdout
        assert "caddy validate: Caddyfile OK" in first.stdout
        if shutil.which("systemd-analyze"):
            assert "systemd-analyze verify: units OK" in first.stdout

        mode = stat.S_IMODE(env_file.stat().st_mode)
        assert mode == 0o600, oct(mode)
        first_settings = settings(env_file)
        assert re.fullmatch(r"[0-9a-f]{64}", first_settings["SECRET_KEY"])
        assert first_settings["DATABASE_URL"] == database_url
        assert first_settings["PUBLIC_URL"] == public_url
        assert first_settings["TRUSTED_PROXIES"] == "1"
        assert Path(first_settings["BACKUP_DIR"]).is_dir()
        assert Path(first_settings["BACKUP_DIR"]).is_relative_to(prefix)
        check_files(prefix, port, public_url, tmp_path)

        # The app itself, and through Caddy on the public address (Host passed on).
        answers_ok(f"http://127.0.0.1:{port}/healthz")
        answers_ok(f"{public_url}/healthz")
        assert requests.get(f"{public_url}/api/v1/merchants", timeout=10).status_code == 200
        first_pids = pids(prefix)
        assert set(first_pids) == set(SERVICES)  # the worker's needs `loyalty worker`
        for name, pid in first_pids.items():
            assert running(pid), f"{name} (pid {pid}) is not running"
        assert scalar(database_url, "SELECT version_num FROM alembic_version") == head_revision()

        # /usr/local/bin/loyalty works on the server's database with its settings.
        made = subprocess.run([str(loyalty), "create-scheme", "--slug", "sint-gillis-waas",
                               "--name", "Sint-Gillis-Waas"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert made.returncode == 0, made.stdout + made.stderr
        # A setting added by hand survives the rerun.
        with env_file.open("a") as extra:
            extra.write('MAIL_FROM="Lokaal Sparen <sparen@sint-gillis-waas.be>"\n')

        # Later: newer code, the same script run again with no options at all.
        checkout = copy_of_checkout(tmp_path / "checkout")
        second = install(checkout / "scripts" / "install-server.sh", "--prefix", prefix)
        lines = second.stdout.strip().splitlines()
        assert lines[0].startswith("==> upgrading Lokaal Sparen")
        assert lines[-1].startswith("Lokaal Sparen ") and " upgraded for " in lines[-1]
        assert "SECRET_KEY kept" in second.stdout

        second_settings = settings(env_file)
        assert second_settings["SECRET_KEY"] == first_settings["SECRET_KEY"]
        assert second_settings["DATABASE_URL"] == database_url
        assert second_settings["PUBLIC_URL"] == public_url
        assert second_settings["MAIL_FROM"] == '"Lokaal Sparen <sparen@sint-gillis-waas.be>"'
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        check_files(prefix, port, public_url, tmp_path)  # port and workers kept

        marked = subprocess.run([str(venv_python), "-c",
                                 "import loyalty; print(loyalty.RELEASE_MARK)"],
                                capture_output=True, text=True, timeout=60, check=False,
                                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                                cwd=tmp_path)  # not beside a checkout's own loyalty/
        assert marked.stdout.strip() == "the second release", marked.stderr

        second_pids = pids(prefix)
        assert set(second_pids) == set(SERVICES)
        for name, pid in second_pids.items():
            assert pid != first_pids[name], f"{name} was not restarted"
            assert not running(first_pids[name]), f"the old {name} still runs"
            assert running(pid), f"{name} (pid {pid}) is not running after the upgrade"
        answers_ok(f"http://127.0.0.1:{port}/healthz")
        answers_ok(f"{public_url}/healthz")
        assert scalar(database_url, "SELECT version_num FROM alembic_version") == head_revision()
        assert scalar(database_url, "SELECT name FROM schemes") == "Sint-Gillis-Waas"
    finally:
        stop(prefix)
    for name, pid in pids(prefix).items():
        assert not running(pid), f"{name} (pid {pid}) did not stop"


@pytest.mark.parametrize("args, message", [
    ((), "--public-url is required"),
    (("--public-url", "https://sparen.example.be/path"), "the site's address alone"),
    (("--public-url", "https://sparen.example.be", "--port", "http"), "--port must be"),
    (("--public-url", "https://sparen.example.be", "--workers", "0"), "--workers must be"),
    (("--public-url", "https://sparen.example.be", "--database-url", "mysql://x/y"),
     "--database-url must be"),
    (("--public-url", "https://sparen.example.be", "--database-url", "sqlite:///loyalty.db"),
     "sqlite:////absolute/path"),
])
def test_bad_arguments_are_refused_in_plain_words(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-server.sh"), "--prefix", str(tmp_path), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 1
    assert message in done.stderr


def test_help_has_an_example() -> None:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "install-server.sh"), "--help"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert "Example" in done.stdout
    assert "--public-url https://" in done.stdout
    assert "--prefix DIR" in done.stdout
