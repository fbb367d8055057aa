"""The login throttle behind a real reverse proxy: Caddy (`tls internal`) in front
of `loyalty serve` with TRUSTED_PROXIES=1, clients on distinct loopback addresses.

Before TRUSTED_PROXIES every request seemed to come from the proxy's address, so
fifty failures from anywhere closed sign-in for every staff member."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy.orm import Session

from lokaal_sparen.app import create_app
from loyalty.access import staff
from loyalty.models import Role
from tests.api.helpers import wait_after_failures
from tests.conftest import FromAddress, Mailbox, free_port, serve
from tests.factories import PASSWORD, make_scheme, make_user

# Each client is its own loopback address (Linux routes all of 127.0.0.0/8 to lo).
_clients = (f"127.0.{n // 250}.{2 + n % 250}" for n in itertools.count(10))


@dataclass
class Proxied:
    url: str  # Caddy's https address: PUBLIC_URL
    ca: Path  # Caddy's local root certificate

    def client(self, address: str | None = None) -> requests.Session:
        http = requests.Session()
        http.trust_env = False  # else REQUESTS_CA_BUNDLE, if set, replaces verify
        http.verify = str(self.ca)
        http.mount("https://", FromAddress(address or next(_clients)))
        return http

    def token(self, email: str, password: str, *, address: str | None = None,
              headers: dict[str, str] | None = None) -> requests.Response:
        return self.client(address).post(
            f"{self.url}/api/v1/auth/token", json={"email": email, "password": password},
            headers=headers, timeout=30,
        )


@pytest.fixture
def proxied(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
    tmp_path: Path,
) -> Iterator[Proxied]:
    caddy = shutil.which("caddy")
    assert caddy, "Debian's caddy package is needed (scripts/test.sh installs it)"
    port = free_port()
    public = f"https://127.0.0.1:{port}"
    env = {"TRUSTED_PROXIES": "1", "PUBLIC_URL": public}
    with serve(database_url, tmp_path_factory, smtp_server[2], env, workers=2) as server:
        config = tmp_path / "Caddyfile"
        config.write_text(
            # An IP address has no TLS server name: default_sni picks its certificate.
            "{\n  admin off\n  auto_https disable_redirects\n  skip_install_trust\n"
            "  default_sni 127.0.0.1\n}\n"
            f"{public} {{\n  tls internal\n"
            f"  reverse_proxy {server.url.removeprefix('http://')}\n}}\n"
        )
        home = {name: str(tmp_path / name) for name in ("data", "config")}
        log = (tmp_path / "caddy.log").open("w")
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
            env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": home["data"],
                 "XDG_CONFIG_HOME": home["config"]},
            stdout=log, stderr=subprocess.STDOUT,
        )
        ca = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        proxied = Proxied(public, ca)
        try:
            deadline = time.monotonic() + 30
            last: object = None
            while True:
                try:
                    if ca.exists():
                        last = proxied.client().get(f"{public}/api/v1/merchants", timeout=5)
                        if last.status_code == 200:  # type: ignore[attr-defined]
                            break
                except requests.RequestException as error:
                    last = error
                assert proc.poll() is None and time.monotonic() < deadline, (
                    f"caddy did not answer ({last!r}):\n" + (tmp_path / "caddy.log").read_text()
                )
                time.sleep(0.2)
            yield proxied
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            log.close()


def test_failures_from_many_clients_lock_nobody_out(proxied: Proxied, session: Session) -> None:
    """The review's attack: ~50 failures from random addresses; then a staff
    member signs in from home as usual."""
    for n in range(50):
        assert proxied.token(f"guess{n}@example.be", "wrong").status_code == 401
    analyst = make_user(session, make_scheme(session), Role.MUNICIPALITY_ANALYST)
    assert proxied.token(analyst.email, PASSWORD).status_code == 201


def test_one_client_hammering_is_stopped_and_nobody_else(
    proxied: Proxied, session: Session
) -> None:
    attacker = next(_clients)
    for n in range(staff.MAX_FAILURES_PER_IP):
        assert proxied.token(f"try{n}@example.be", "wrong", address=attacker).status_code == 401
    analyst = make_user(session, make_scheme(session), Role.MUNICIPALITY_ANALYST)
    stopped = proxied.token(analyst.email, PASSWORD, address=attacker)
    assert stopped.status_code == 429
    assert int(stopped.headers["Retry-After"]) > 14 * 60
    # A client cannot pick another address by telling the proxy one: Caddy
    # replaces an untrusted client's X-Forwarded-For with the real address.
    spoofed = proxied.token(analyst.email, PASSWORD, address=attacker,
                            headers={"X-Forwarded-For": "198.51.100.7"})
    assert spoofed.status_code == 429
    assert proxied.token(analyst.email, PASSWORD).status_code == 201


def test_an_attacked_account_only_waits(proxied: Proxied, session: Session) -> None:
    """Guesses at one account from many addresses slow that account down, but its
    holder, signing in from elsewhere, is never locked out: at most a minute."""
    analyst = make_user(session, make_scheme(session), Role.MUNICIPALITY_ANALYST)
    for _ in range(staff.FREE_FAILURES_PER_ACCOUNT + 3):
        proxied.token(analyst.email, "wrong")
        wait_after_failures(session, analyst, 60)
    waiting = proxied.token(analyst.email, "wrong")
    assert waiting.status_code == 401
    held = proxied.token(analyst.email, PASSWORD)
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) <= staff.MAX_ACCOUNT_DELAY.total_seconds()
    wait_after_failures(session, analyst, staff.MAX_ACCOUNT_DELAY.total_seconds())
    assert proxied.token(analyst.email, PASSWORD).status_code == 201


def _app(database_url: str, proxies: int) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
                       "PUBLIC_URL": "https://sparen.example.be", "TRUSTED_PROXIES": proxies})


@pytest.mark.parametrize("proxies", [0, 1])
def test_x_forwarded_for_counts_only_behind_trusted_proxies(
    database_url: str, proxies: int
) -> None:
    """Without TRUSTED_PROXIES a client's own X-Forwarded-For is ignored, so it
    cannot escape the per-address limit by naming other addresses."""
    app = _app(database_url, proxies)
    client = app.test_client()
    direct = {"REMOTE_ADDR": next(_clients)}
    for n in range(staff.MAX_FAILURES_PER_IP):
        answer = client.post("/api/v1/auth/token", environ_base=direct,
                             json={"email": f"x{n}@example.be", "password": "wrong"},
                             headers={"X-Forwarded-For": f"198.51.100.{n}"})
        assert answer.status_code == 401
    last = client.post("/api/v1/auth/token", environ_base=direct,
                       json={"email": "last@example.be", "password": "wrong"},
                       headers={"X-Forwarded-For": "198.51.100.250"})
    # Behind a trusted proxy each forwarded address is a client of its own.
    assert last.status_code == (429 if proxies == 0 else 401)
    app.extensions["loyalty.engine"].dispose()
