"""Test fixtures: a migrated database (SQLite by default, PostgreSQL when
TEST_DATABASE_URL names one), the app, its client and a live gunicorn server.

Tests commit for real, because the race tests need several connections to
see each other's work. Isolation comes from data instead: every test makes
its own scheme (tests.factories), so tests never share shops or wallets.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from requests.adapters import HTTPAdapter
from sqlalchemy.orm import Session

from lokaal_sparen.app import create_app
from loyalty.infra import security
from loyalty.infra.db import make_engine, sqlite_begin_mode
from loyalty.infra.migrate import upgrade

# Fixtures kept beside their test data, shared by every folder (one session-scoped
# server for the wallet passes, however many folders use it).
pytest_plugins = ["tests.wallet_pass_data"]

ROOT = Path(__file__).resolve().parent.parent

# Cheap argon2id for the hundreds of sign-ins of the suite; the live server
# and every command started by the tests inherit it. See loyalty.infra.security.
os.environ[security.FAST_HASH_VARIABLE] = "1"


class SharedTemplateCode(BytecodeCache):
    """Compiled templates kept in memory for every app the test process makes.

    Each test gets an app of its own, and each app's Jinja environment compiled
    the same templates again: a fifth of the page tests' CPU. Jinja checks a
    template's source against the checksum of its code before it uses it, and
    every app here comes from the same create_app (same extensions and
    autoescaping), so one app's code is good for all.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


# Flask passes jinja_options to every environment it makes (the apps of the
# fixtures and of the tests alike).
Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SharedTemplateCode()}


def _create_postgres_database(server_url: str) -> tuple[str, str]:
    """A fresh, empty database on the server of ``server_url``; returns (url, name)."""
    name = f"loyalty_test_{uuid.uuid4().hex[:10]}"
    engine = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    base, _, _db = server_url.rpartition("/")
    return f"{base}/{name}", name


def _drop_postgres_database(server_url: str, name: str) -> None:
    engine = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a migrated database for this test run."""
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    if server_url.startswith("postgresql"):
        url, name = _create_postgres_database(server_url)
        upgrade(url)
        yield url
        _drop_postgres_database(server_url, name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        upgrade(url)
        yield url


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh empty database of the kind under test, for commands and migrations."""
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    if server_url.startswith("postgresql"):
        url, name = _create_postgres_database(server_url)
        yield url
        _drop_postgres_database(server_url, name)
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def new_empty_database(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes as many fresh empty databases of the kind under test as a test needs."""
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    made: list[str] = []

    def make() -> str:
        if server_url.startswith("postgresql"):
            url, name = _create_postgres_database(server_url)
            made.append(name)
            return url
        made.append("")
        return f"sqlite:///{tmp_path / f'empty-{len(made)}.db'}"

    yield make
    for name in made:
        if name:
            _drop_postgres_database(server_url, name)


@pytest.fixture(scope="session")
def dialect(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


# -- the read replica (DATABASE_REPLICA_URL) -------------------------------------


def _start_replica(primary_server_url: str) -> str:
    """The URL (no database) of a streaming replica of the test server, started by
    scripts/start-replica.sh when it is not running (.ci/run starts it first)."""
    primary = sa.engine.make_url(primary_server_url)
    env = {
        **os.environ,
        "PRIMARY_HOST": primary.host or "127.0.0.1",
        "PRIMARY_PORT": str(primary.port or 5432),
        "PRIMARY_USER": primary.username or "postgres",
    }
    result = subprocess.run(
        [str(ROOT / "scripts" / "start-replica.sh")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    lines = result.stdout.split()
    if result.returncode != 0 or not lines:
        # A failure, not a skip: on PostgreSQL the replica tests must run.
        pytest.fail("no read replica of the PostgreSQL test server (set "
                    "TEST_DATABASE_REPLICA_URL, or make scripts/start-replica.sh work):\n"
                    + result.stdout + result.stderr)
    return lines[-1]


def wait_for_replica(primary_url: str, replica_url: str, timeout: float = 60) -> None:
    """Return once the replica has replayed everything the primary committed so far."""
    if not replica_url.startswith("postgresql"):
        return  # SQLite: the "replica" is the same file
    from loyalty.infra.replica import make_replica_engine, primary_position, replica_state

    primary = make_engine(primary_url)
    replica = make_replica_engine(replica_url)
    try:
        with Session(primary) as session:
            target = primary_position(session)
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Also waits for a database the primary made a moment ago to appear.
                if replica_state(replica, target, wait=max(deadline - time.monotonic(), 0)
                                 ).caught_up:
                    return
            except sa.exc.OperationalError as error:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the replica does not answer: {error}") from error
                time.sleep(0.1)
                continue
            raise AssertionError(f"the replica did not catch up with the primary in {timeout} s")
    finally:
        primary.dispose()
        replica.dispose()


@pytest.fixture(scope="session")
def replica_url(database_url: str) -> str:
    """DATABASE_REPLICA_URL for the test database.

    On PostgreSQL the same database on a real streaming replica of the test server:
    TEST_DATABASE_REPLICA_URL's server (.ci/run sets it), else the one that
    scripts/start-replica.sh starts; a physical replica has every database of its
    primary, so the database this run made is there under its own name. On SQLite
    a read-only connection to the same file: as unable to write as a standby, but
    never behind.
    """
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return f"sqlite:///file:{url.database}?mode=ro&uri=true"
    server = os.environ.get("TEST_DATABASE_REPLICA_URL") or _start_replica(
        os.environ["TEST_DATABASE_URL"]
    )
    replica = sa.engine.make_url(server).set(database=url.database).render_as_string(
        hide_password=False
    )
    wait_for_replica(database_url, replica)
    return replica


_client_addresses = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))


class PublicHostClient(FlaskClient):
    """Flask's test client, whose cookies belong to the host it calls.

    The app answers only PUBLIC_URL's host; Flask's client calls it (SERVER_NAME),
    but Werkzeug's cookie helpers default to the domain "localhost".
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each client is a device of its own (the login throttle counts failures
        # per client address): one test's wrong passwords never slow another's.
        self.environ_base["REMOTE_ADDR"] = next(_client_addresses)

    def _domain(self) -> str:
        return str(self.application.config["SERVER_NAME"]).partition(":")[0]

    def set_cookie(self, key: str, value: str = "", *, domain: str | None = None,
                   **kwargs: Any) -> None:
        super().set_cookie(key, value, domain=domain or self._domain(), **kwargs)

    def get_cookie(self, key: str, domain: str | None = None, path: str = "/") -> Any:
        return super().get_cookie(key, domain or self._domain(), path)

    def delete_cookie(self, key: str, *, domain: str | None = None, **kwargs: Any) -> None:
        super().delete_cookie(key, domain=domain or self._domain(), **kwargs)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "PUBLIC_URL": "https://sparen.example.be",
        }
    )
    app.test_client_class = PublicHostClient
    yield app
    app.extensions["loyalty.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session for test setup and checks; the factories commit through it.

    Its transactions start deferred on SQLite: a test that reads (or lazily
    reloads an attribute) between two requests must not take the write lock
    that the next request needs.
    """
    factory = app.extensions["loyalty.sessions"]
    token = sqlite_begin_mode.set("DEFERRED")
    try:
        with factory() as s:
            yield s
    finally:
        sqlite_begin_mode.reset(token)


def _ephemeral_ports() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


_EPHEMERAL = _ephemeral_ports()
_ports = random.Random()  # noqa: S311  (a port number, not a secret)


def free_port() -> int:
    """A port free now for a server a test starts a little later.

    Not one the kernel would give out (port 0): it hands the same range to every
    outgoing connection, and the thousands a test run opens can take the port
    before the server binds it ("address already in use", seen with the two
    suites running side by side). Below that range nothing takes it by chance.
    """
    low = 20_000 if _EPHEMERAL.start > 20_000 else 1024
    high = min(_EPHEMERAL.start, 32_768)
    for _ in range(200):
        port = _ports.randrange(low, high)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class FromAddress(HTTPAdapter):
    """A requests adapter whose connections leave from one local address (Linux
    routes all of 127.0.0.0/8 to the loopback device): a client of its own, as
    the login throttle counts clients."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Mailbox:
    """Messages received by a real SMTP server (aiosmtpd) during the tests."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            message_from_bytes(envelope.content, _class=EmailMessage, policy=default_policy)
        )
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 15.0) -> EmailMessage:
        """The newest message to ``to``, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if message["To"] == to:
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no e-mail to {to} arrived")


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, int, Mailbox]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.hostname, controller.port, mailbox
    controller.stop()


@pytest.fixture
def mailbox(app: Flask, smtp_server: tuple[str, int, Mailbox]) -> Iterator[Mailbox]:
    """The SMTP server the app mails to, for the tests that read what it sent."""
    host, port, box = smtp_server
    app.config.update(MAIL_SERVER=host, MAIL_PORT=port)
    yield box


# The live server checks Stripe webhook deliveries against this secret.
LIVE_STRIPE_WEBHOOK_SECRET = "whsec_live_server_test_secret"


class LiveServer:
    def __init__(self, url: str, database_url: str, mailbox: Mailbox) -> None:
        self.url = url
        self.database_url = database_url
        self.mailbox = mailbox
        self.stripe_webhook_secret = LIVE_STRIPE_WEBHOOK_SECRET

    def api(self, path: str) -> str:
        return f"{self.url}/api/v1{path}"


@contextmanager
def serve(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: Mailbox,
    env: dict[str, str],
    workers: int,
) -> Iterator[LiveServer]:
    """`loyalty serve` on the test database with ``env`` added to the environment."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "live-server-secret",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    log = tmp_path_factory.mktemp("server") / "gunicorn.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lokaal_sparen", "serve", "--port", str(port),
             "--workers", str(workers)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp_path_factory.mktemp("cwd"),
        )
    url = f"http://127.0.0.1:{port}"
    # Asked as its public host (another one, behind a proxy): it answers no other.
    netloc = urlsplit(env["PUBLIC_URL"]).netloc
    host = {"Host": netloc} if netloc else {}
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/api/v1/merchants", headers=host, timeout=5).status_code == 200:
                break
        except requests.RequestException:  # not up yet, or too busy to answer in time
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(timeout=15)
            raise RuntimeError("the live server did not start:\n" + log.read_text())
        time.sleep(0.2)
    try:
        yield LiveServer(url, database_url, mailbox)
    finally:  # also when the test failed: no server left running
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="session")
def live_server(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
) -> Iterator[LiveServer]:
    """`loyalty serve` with 4 worker processes on the test database, mailing to smtp_server."""
    smtp_host, smtp_port, mailbox = smtp_server
    env = {
        "MAIL_SERVER": smtp_host,
        "MAIL_PORT": str(smtp_port),
        "STRIPE_WEBHOOK_SECRET": LIVE_STRIPE_WEBHOOK_SECRET,
        # No STRIPE_SECRET_KEY: shops top up by bank transfer, as in the demo.
    }
    with serve(database_url, tmp_path_factory, mailbox, env, workers=4) as server:
        yield server


@pytest.fixture
def verify_ledger(database_url: str):  # type: ignore[no-untyped-def]
    """Run `loyalty ledger verify` as a separate process; assert it passes."""

    def run() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "lokaal_sparen", "ledger", "verify"],
            env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ledger OK" in result.stdout
        return result.stdout

    return run


def count(session: Session, stmt: sa.Select) -> int:  # type: ignore[type-arg]
    return int(session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0)


# -- the browser of the page tests (tests/browser, tests/browser_portal) ----------

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Debian's chromium as root, headless, without its background connections
# (this machine has no network beyond the package registries).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BROWSER_TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """One sync Playwright for the whole run: only one can run in a thread."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        # A failure, not a skip: the pages are part of the product. scripts/test.sh
        # installs Debian's chromium.
        pytest.fail(f"no chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


# -- Stripe's API, played by a local server (tests/stripe_stub.py) ---------------


@pytest.fixture
def stripe_stub() -> Iterator[Any]:
    """A running Stripe stand-in; point the app at it with ``stripe_stub.url``."""
    from tests.stripe_stub import RunningStub

    with RunningStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def stripe_live_server(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
) -> Iterator[tuple[LiveServer, Any]]:
    """A second live server with Stripe turned on, talking to a local Stripe stand-in
    whose hosted checkout page sends its signed events to the server's webhook."""
    from tests.stripe_stub import RunningStub

    with RunningStub() as stub:
        env = {
            "STRIPE_SECRET_KEY": "sk_test_live_server",
            "STRIPE_WEBHOOK_SECRET": LIVE_STRIPE_WEBHOOK_SECRET,
            "STRIPE_API_BASE": stub.url,
        }
        with serve(database_url, tmp_path_factory, smtp_server[2], env, workers=2) as server:
            stub.webhook_url = server.api("/stripe/webhook")
            stub.webhook_secret = LIVE_STRIPE_WEBHOOK_SECRET
            yield server, stub
