"""The Docker alternative to scripts/install-server.sh: compose.yaml runs the
services the way the systemd units do, the image bakes in no secret and no
database, and Caddy's file in deploy/ is valid. Docker itself does not run in
CI; `docker compose config` checks the file too where Compose is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

SETTINGS = ("DATABASE_URL", "SECRET_KEY", "PUBLIC_URL")
EXAMPLE_ENV = {
    "PUBLIC_URL": "https://sparen.example.be",
    "SECRET_KEY": "0" * 64,
    "POSTGRES_PASSWORD": "compose-test",
}


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_the_app_the_worker_postgres_and_caddy() -> None:
    services = compose()["services"]
    assert {"app", "worker", "postgres", "caddy"} <= set(services)

    app, worker = services["app"], services["worker"]
    # On the containers' own network, where only Caddy reaches it.
    assert app["command"][:3] == ["serve", "--host", "0.0.0.0"]  # noqa: S104
    assert worker["command"] == ["worker"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for service in (app, worker):
        assert service["build"] == "." and service["image"] == services["migrate"]["image"]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        env = service["environment"]
        assert set(SETTINGS) <= set(env)
        assert env["TRUSTED_PROXIES"] == "1"
        assert env["BACKUP_DIR"]
        assert any(volume.endswith(f":{env['BACKUP_DIR']}") for volume in service["volumes"])
    assert "ports" not in app, "only Caddy is reachable from outside"

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:15")
    data = [v for v in postgres["volumes"] if v.endswith(":/var/lib/postgresql/data")]
    assert data and data[0].split(":")[0] in compose()["volumes"]

    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy:")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert "443:443" in caddy["ports"]


def test_compose_takes_every_secret_from_the_environment() -> None:
    """No password, key or address is written into compose.yaml itself."""
    services = compose()["services"]
    for name in ("app", "worker", "migrate"):
        env = services[name]["environment"]
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", env["SECRET_KEY"])
        assert re.fullmatch(r"\$\{PUBLIC_URL:\?[^}]*\}", env["PUBLIC_URL"])
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?")


def test_compose_config_where_docker_compose_runs(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True,
                                        timeout=60, check=False).returncode != 0:
        return  # checked by the tests above only (no Compose here, as in CI)
    done = subprocess.run(
        [docker, "compose", "--project-directory", str(ROOT), "-f", str(ROOT / "compose.yaml"),
         "config", "--quiet"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **EXAMPLE_ENV},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in (raw.strip() for raw in text.splitlines())
            if line and not line.startswith("#")]


def test_the_image_is_python_slim_runs_loyalty_as_a_user_and_holds_no_secret() -> None:
    instructions = dockerfile_instructions()
    stages = [argument for name, argument in instructions if name == "FROM"]
    assert stages and all(stage.startswith("python:3.11-slim") for stage in stages)
    final = instructions[max(i for i, (name, _) in enumerate(instructions) if name == "FROM"):]
    users = [argument.strip() for name, argument in final if name == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert ("ENTRYPOINT", '["loyalty"]') in final
    # Settings arrive when a container starts; none is an ENV or a build ARG.
    baked = " ".join(argument for name, argument in instructions if name in ("ENV", "ARG"))
    for secret in (*SETTINGS, "PASSWORD", "STRIPE", "METRICS_TOKEN", "MAIL_"):
        assert secret not in baked
    for name, argument in instructions:
        if name in ("COPY", "ADD"):
            assert ".env" not in argument and "instance" not in argument


def test_dockerignore_keeps_private_and_built_files_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for pattern in (".env", ".env.*", "**/instance", "**/secret_key", "**/*.db", ".git",
                    ".venv", "**/*.egg-info", "**/__pycache__"):
        assert pattern in ignored, pattern
    assert not any(line.startswith("!") for line in ignored), "nothing is let back in"


def test_compose_caddyfile_is_valid(tmp_path: Path) -> None:
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy package is needed (scripts/test.sh installs it)"
    done = subprocess.run(
        [caddy, "validate", "--config", str(ROOT / "deploy" / "Caddyfile"),
         "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PUBLIC_URL": EXAMPLE_ENV["PUBLIC_URL"], "HOME": str(tmp_path),
             "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
