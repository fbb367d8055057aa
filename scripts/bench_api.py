#!/usr/bin/env python3
"""End-to-end API benchmark: claim creation and collection against a hello-world Flask baseline.

In one run it:

1. serves a hello-world Flask app (scripts/hello_app.py) under gunicorn with the
   very same settings as `loyalty serve` (it reuses loyalty.cli._serve: sync
   workers, --workers N) and measures its throughput;
2. migrates a fresh database (`python -m loyalty db upgrade`), creates a scheme,
   an approved shop and a till key, starts `python -m loyalty serve --workers N`
   and measures POST /api/v1/claims (till key) and POST /api/v1/claims/{token}/claim
   (a pool of wallets made through POST /api/v1/wallets, one pre-created claim per
   request; only 200 answers count);
3. prints both throughputs with their ratio to the baseline, and the QR render time
   per code against the qrcode library's default make() (scripts/bench_qr.measure).

Every measurement uses the same load client: --concurrency threads, each with its
own keep-alive-capable http.client connection (gunicorn's sync workers close the
connection after every answer, for both servers alike), a warm-up, then
--duration seconds timed with time.perf_counter. Any non-2xx answer or transport
error is reported and makes the script exit 1. Every server it starts is stopped,
also on errors and Ctrl+C.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import itertools
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

EXAMPLE = """\
examples:
  python scripts/bench_api.py
  python scripts/bench_api.py --duration 5 --concurrency 8 --workers 2
  psql -h 127.0.0.1 -U postgres -c 'create database bench_x'
  python scripts/bench_api.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x
  psql -h 127.0.0.1 -U postgres -c 'drop database bench_x'
"""

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
MAX_ERRORS = 50  # stop a phase early once this many requests failed
CLAIM_TTL_SECONDS = 24 * 3600  # claims must outlive the whole run
AMOUNT_CENTS = 1250  # EUR 12.50: 12 points at the default rate


def say(message: str) -> None:
    print(message, flush=True)


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_busy(seconds: float = 1.0) -> float | None:
    """The share of all CPUs busy with other work over ``seconds`` (0..1), if known."""
    before = _cpu_ticks()
    time.sleep(seconds)
    after = _cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """A gunicorn server in its own process group, stopped by stop() (idempotent)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.argv = [*argv, "--port", str(self.port)]
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, health_path: str) -> None:
        say(f"[{self.name}] starting: {' '.join(self.argv)}")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C reaches us only; we stop it ourselves
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                status, _ = request(http.client.HTTPConnection(HOST, self.port, timeout=5),
                                    "GET", health_path)
                if status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not start; its log:\n{self.log_tail()}")
            time.sleep(0.2)
        say(f"[{self.name}] listening on http://{HOST}:{self.port} (pid {self.proc.pid})")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # SIGTERM: gunicorn's graceful shutdown of master and workers
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                say(f"[{self.name}] did not stop in {STOP_TIMEOUT:.0f} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # its own group: master and workers
                proc.wait(timeout=STOP_TIMEOUT)
        # Forget it only once it is gone, so an interrupted stop() is retried.
        self.proc = None
        say(f"[{self.name}] stopped")


# --------------------------------------------------------------------------- client


class BenchError(Exception):
    """The benchmark cannot go on (or its figures would be wrong)."""


class RequestFailed(Exception):
    """An answer other than the expected 2xx."""


class Exhausted(Exception):
    """The job has no more work (its pool of claims is empty)."""


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request on ``conn``; it reconnects by itself after the server closed it."""
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        raise


def expect(status: int, data: bytes, wanted: int, what: str) -> None:
    if status != wanted:
        raise RequestFailed(f"{what}: HTTP {status} {data[:300].decode('utf-8', 'replace')}")


Job = Callable[[http.client.HTTPConnection], None]
# What a failed request raises: a wrong status, a transport error, an unexpected body.
FAILURES = (RequestFailed, OSError, http.client.HTTPException, ValueError, KeyError)


@dataclass
class LoadResult:
    name: str
    requests: int
    seconds: float
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    client_cpu: float = 0.0  # client CPU seconds per wall second in the timed window
    server_cpu: float | None = None  # server CPU seconds per wall second (all processes)
    server_ms: float | None = None  # server CPU milliseconds per completed request
    exhausted: bool = False

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


class Load:
    """A fixed pool of client threads running ``job`` in a loop until told to stop."""

    def __init__(
        self, name: str, port: int, job: Job, concurrency: int, server_pid: int | None = None
    ) -> None:
        self.name = name
        self.port = port
        self.server_pid = server_pid
        self.job = job
        self.stop = threading.Event()
        self.done_at: list[list[float]] = [[] for _ in range(concurrency)]
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.error_count = 0
        self.exhausted_at: float | None = None
        self.threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True, name=f"{name}-{i}")
            for i in range(concurrency)
        ]

    def _loop(self, index: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        done = self.done_at[index]
        clock = time.perf_counter
        job = self.job
        try:
            while not self.stop.is_set():
                try:
                    job(conn)
                except Exhausted:
                    with self.lock:
                        if self.exhausted_at is None:
                            self.exhausted_at = clock()
                    return
                except FAILURES as error:
                    with self.lock:
                        self.error_count += 1
                        if len(self.errors) < 5:
                            self.errors.append(f"{type(error).__name__}: {error}")
                        if self.error_count >= MAX_ERRORS:
                            self.stop.set()
                    continue
                done.append(clock())
        finally:
            conn.close()

    def completed(self, since: float) -> int:
        return sum(sum(1 for t in times if t >= since) for times in self.done_at)

    def run(self, warmup: float, duration: float, progress_every: float = 2.0) -> LoadResult:
        """Warm up, then count the requests completed in the next ``duration`` seconds."""
        for thread in self.threads:
            thread.start()
        try:
            self._sleep(warmup)
            t0 = time.perf_counter()
            cpu0 = _cpu_seconds()
            srv0 = server_cpu_seconds(self.server_pid)
            end = t0 + duration
            next_report = t0 + progress_every
            while not self._finished():
                now = time.perf_counter()
                if now >= end:
                    break
                if now >= next_report:
                    n = self.completed(t0)
                    say(f"  {self.name}: {now - t0:4.1f} s, {n} requests, "
                        f"{n / (now - t0):.0f} req/s so far")
                    next_report += progress_every
                time.sleep(min(0.05, end - now))
            t1 = time.perf_counter()
            cpu1 = _cpu_seconds()
            srv1 = server_cpu_seconds(self.server_pid)
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join(timeout=90)
        server_cpu = server_ms = None
        if srv0 is not None and srv1 is not None:
            in_window = sum(sum(1 for t in times if t0 <= t < t1) for times in self.done_at)
            server_cpu = (srv1 - srv0) / max(t1 - t0, 1e-9)
            server_ms = 1000 * (srv1 - srv0) / in_window if in_window else None
        exhausted = self.exhausted_at is not None and self.exhausted_at < t1
        if exhausted:
            assert self.exhausted_at is not None
            t1 = max(t0, self.exhausted_at)
        n = sum(sum(1 for t in times if t0 <= t < t1) for times in self.done_at)
        return LoadResult(
            self.name, n, t1 - t0, list(self.errors), self.error_count,
            client_cpu=(cpu1 - cpu0) / max(t1 - t0, 1e-9), server_cpu=server_cpu,
            server_ms=server_ms, exhausted=exhausted,
        )

    def _finished(self) -> bool:
        return self.stop.is_set() or not any(t.is_alive() for t in self.threads)

    def _sleep(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while not self._finished() and time.perf_counter() < end:
            time.sleep(0.05)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_seconds(master_pid: int | None) -> float | None:
    """User+system CPU seconds of a gunicorn master and its workers, from /proc (Linux)."""
    if master_pid is None or not os.path.isdir("/proc"):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command may hold spaces: the fields after its closing ')'.
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        pid, ppid = int(entry), int(fields[1])
        if pid == master_pid or ppid == master_pid:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def run_jobs(name: str, port: int, job: Job, count: int, concurrency: int) -> LoadResult:
    """Run ``job`` exactly ``count`` times on the thread pool (set-up work, not timed)."""
    tickets = iter(range(count))
    lock = threading.Lock()

    def one(conn: http.client.HTTPConnection) -> None:
        with lock:
            if next(tickets, None) is None:
                raise Exhausted
        job(conn)

    return Load(name, port, one, concurrency).run(warmup=0.0, duration=float("inf"),
                                                  progress_every=float("inf"))


def check(result: LoadResult) -> None:
    if result.error_count:
        details = "\n    ".join(result.errors)
        raise BenchError(
            f"{result.name}: {result.error_count} failed requests, e.g.\n    {details}"
        )


def report(result: LoadResult, baseline: LoadResult | None = None) -> None:
    ratio = f", ratio {result.rate / baseline.rate:.2f} of the baseline" if baseline else ""
    note = " (claim pool ran out: shortened window)" if result.exhausted else ""
    server = ""
    if result.server_cpu is not None and result.server_ms is not None:
        server = (f"server CPU {result.server_ms:.2f} ms/request = "
                  f"{result.server_cpu:.2f} cores; ")
    say(f"[{result.name}] {result.rate:.0f} req/s ({result.requests} requests in "
        f"{result.seconds:.1f} s{note}; {server}client CPU {result.client_cpu:.2f} cores)"
        f"{ratio}")


# --------------------------------------------------------------------------- phases


def bench_hello(args: argparse.Namespace, env: dict[str, str], workdir: Path,
                servers: list[Server]) -> LoadResult:
    server = Server(
        "hello-world flask",
        [sys.executable, str(SCRIPTS / "hello_app.py"), "--workers", str(args.workers)],
        env, workdir,
    )
    servers.append(server)
    server.start("/")
    body = json.dumps({"amount_cents": AMOUNT_CENTS, "ttl_seconds": CLAIM_TTL_SECONDS}).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer lsk_hello"}

    def hello(conn: http.client.HTTPConnection) -> None:
        status, data = request(conn, "POST", "/api/v1/hello", body, headers)
        expect(status, data, 200, "hello")

    say(f"[hello-world flask] {args.warmup:g} s warm-up, then {args.duration:g} s timed")
    result = Load("hello-world flask", server.port, hello, args.concurrency, server.pid).run(
        args.warmup, args.duration)
    check(result)
    report(result)
    server.stop()
    return result


def migrate_and_seed(database_url: str, env: dict[str, str], workdir: Path) -> tuple[str, str]:
    """Migrate the database; create a scheme, an approved shop and a till key.

    Returns (scheme slug, till key).
    """
    say("[setup] migrating: python -m loyalty db upgrade")
    done = subprocess.run(
        [sys.executable, "-m", "loyalty", "db", "upgrade"],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=300,
    )
    if done.returncode != 0:
        raise BenchError(f"migration failed:\n{done.stdout}{done.stderr}")

    from loyalty import schemes, staff
    from loyalty.db import make_engine, make_session_factory, utcnow
    from loyalty.models import MerchantStatus

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            scheme = schemes.create_scheme(session, slug, f"Benchmark {slug}")
            merchant = schemes.create_merchant(
                session, scheme, name="Bakkerij Benchmark", sector="47.24", postcode="9170",
                email=f"{slug}@example.be", status=MerchantStatus.APPROVED,
            )
            key = staff.create_till_key(session, merchant, utcnow(), label="bench").secret
            session.commit()
            say(f"[setup] scheme {slug} (id {scheme.id}), approved shop id {merchant.id}, "
                f"till key {key[:10]}...")
    finally:
        engine.dispose()
    return slug, key


def bench_loyalty(
    args: argparse.Namespace, env: dict[str, str], workdir: Path, servers: list[Server],
    baseline: LoadResult,
) -> tuple[LoadResult, LoadResult]:
    slug, till_key = migrate_and_seed(args.database_url, env, workdir)
    server = Server(
        "loyalty serve",
        [sys.executable, "-m", "loyalty", "serve", "--workers", str(args.workers)],
        env, workdir,
    )
    # Its own address: the app refuses requests for any host but PUBLIC_URL's.
    server.env = {**env, "PUBLIC_URL": f"http://{HOST}:{server.port}"}
    servers.append(server)
    server.start("/api/v1/merchants")
    port = server.port

    # A pool of wallets, made through the API.
    wallet_tokens: list[str] = []
    wallet_body = json.dumps({"scheme": slug}).encode()
    json_headers = {"Content-Type": "application/json"}

    def new_wallet(conn: http.client.HTTPConnection) -> None:
        status, data = request(conn, "POST", "/api/v1/wallets", wallet_body, json_headers)
        expect(status, data, 201, "POST /api/v1/wallets")
        wallet_tokens.append(json.loads(data)["wallet_token"])

    say(f"[setup] creating {args.wallets} wallets via POST /api/v1/wallets")
    check(run_jobs("wallets", port, new_wallet, args.wallets, args.concurrency))

    # (a) POST /api/v1/claims with the till key; every claim made is kept for (b).
    claim_tokens: collections.deque[str] = collections.deque()
    claim_body = json.dumps({"amount_cents": AMOUNT_CENTS, "ttl_seconds": CLAIM_TTL_SECONDS})
    till_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {till_key}"}

    def create_claim(conn: http.client.HTTPConnection) -> None:
        status, data = request(conn, "POST", "/api/v1/claims", claim_body.encode(), till_headers)
        expect(status, data, 201, "POST /api/v1/claims")
        claim_tokens.append(json.loads(data)["token"])

    say(f"[create-claim] {args.warmup:g} s warm-up, then {args.duration:g} s timed")
    created = Load("create-claim", port, create_claim, args.concurrency, server.pid).run(
        args.warmup, args.duration)
    check(created)
    report(created, baseline)

    # (b) POST /api/v1/claims/{token}/claim: each pre-created claim collected once,
    # by the wallets in turn.
    wallet_headers = [{"Authorization": f"Bearer {token}"} for token in wallet_tokens]
    turn = itertools.count()

    def collect(conn: http.client.HTTPConnection) -> None:
        try:
            token = claim_tokens.popleft()
        except IndexError:
            raise Exhausted from None
        headers = wallet_headers[next(turn) % len(wallet_headers)]
        status, data = request(conn, "POST", f"/api/v1/claims/{token}/claim", None, headers)
        expect(status, data, 200, "POST /api/v1/claims/{token}/claim")

    say(f"[claim] {args.warmup:g} s warm-up to size the claim pool "
        f"({len(claim_tokens)} claims made so far)")
    warm = Load("claim warm-up", port, collect, args.concurrency).run(0.0, args.warmup)
    check(warm)
    # Enough claims for the timed window at the warm-up's pace, with a wide margin.
    needed = int(warm.rate * (args.duration + args.warmup) * 1.5) + 20 * args.concurrency
    if len(claim_tokens) < needed:
        extra = needed - len(claim_tokens)
        say(f"[claim] pre-creating {extra} more claims (pool {len(claim_tokens)}, "
            f"need ~{needed} at {warm.rate:.0f} req/s)")
        check(run_jobs("pre-create claims", port, create_claim, extra, args.concurrency))
    say(f"[claim] {len(claim_tokens)} open claims, {len(wallet_tokens)} wallets; "
        f"{args.warmup:g} s warm-up, then {args.duration:g} s timed")
    claimed = Load("claim", port, collect, args.concurrency, server.pid).run(
        args.warmup, args.duration)
    check(claimed)
    report(claimed, baseline)
    if claimed.exhausted:
        say("[claim] warning: the claim pool ran out; the window was shortened")
    if claimed.requests == 0:
        raise BenchError("claim: no request completed in the timed window")
    server.stop()
    return created, claimed


def bench_qr_codes(args: argparse.Namespace) -> dict[str, float | int]:
    from bench_qr import measure

    say(f"[qr] rendering {args.qr_n} claim URLs x {args.qr_repeats} repeats "
        "with loyalty.qr and qrcode.make()")
    result = measure(args.qr_n, repeats=args.qr_repeats)
    say(f"[qr] loyalty.qr {result['loyalty_qr_ms']:.2f} ms/code, qrcode default make() "
        f"{result['qrcode_default_ms']:.2f} ms/code")
    return result


# --------------------------------------------------------------------------- main


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=_positive_float, default=10.0,
                        help="seconds per timed measurement (default: 10)")
    parser.add_argument("--concurrency", type=_positive_int, default=8,
                        help="client threads (default: 8)")
    parser.add_argument("--workers", type=_positive_int, default=2,
                        help="gunicorn workers of both servers (default: 2)")
    parser.add_argument("--database-url", default=None,
                        help="an empty database to migrate and use, e.g. "
                        "postgresql://postgres@127.0.0.1:5432/bench_x "
                        "(default: a fresh SQLite file in a temporary directory)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="warm-up seconds before each timed measurement (default: 2)")
    parser.add_argument("--wallets", type=_positive_int, default=64,
                        help="wallets that collect the claims (default: 64)")
    parser.add_argument("--qr-n", type=_positive_int, default=100,
                        help="claim URLs for the QR render timing (default: 100)")
    parser.add_argument("--qr-repeats", type=_positive_int, default=5,
                        help="repetitions of the QR render timing (default: 5)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, through the finally that stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Ctrl+C raises KeyboardInterrupt even when started with SIGINT ignored (nohup, &).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
        workdir = Path(tmp)
        if args.database_url is None:
            args.database_url = f"sqlite:///{workdir / 'bench.db'}"
        dialect = args.database_url.split(":", 1)[0].split("+", 1)[0]
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "SECRET_KEY": "bench-api-secret-key",
        }
        say(f"bench_api: {dialect} ({args.database_url}), {args.workers} gunicorn workers, "
            f"{args.concurrency} client threads, {args.duration:g} s per measurement, "
            f"{os.cpu_count()} CPUs")
        busy = machine_busy()
        if busy is not None:
            say(f"machine load before the run: {busy:.0%} of all CPUs busy")
            if busy > 0.15:
                say("warning: other processes are using the CPUs; the figures will be noisy")
        try:
            hello = bench_hello(args, env, workdir, servers)
            created, claimed = bench_loyalty(args, env, workdir, servers, hello)
            qr = bench_qr_codes(args)
        except BenchError as error:
            say(f"bench_api FAILED: {error}")
            for server in servers:
                if server.proc is not None:
                    say(f"--- {server.name} log (tail) ---\n{server.log_tail()}")
            return 1
        except KeyboardInterrupt:
            say("bench_api: interrupted")
            return 130
        finally:
            for server in servers:
                server.stop()

    create_ratio = created.rate / hello.rate
    claim_ratio = claimed.rate / hello.rate
    if min(create_ratio, claim_ratio) < 0.5:
        say("note: below the goal of 0.5 of the hello-world baseline")
    say(
        f"hello-world flask: {hello.rate:.0f} req/s | "
        f"create-claim: {created.rate:.0f} req/s (ratio {create_ratio:.2f}) | "
        f"claim: {claimed.rate:.0f} req/s (ratio {claim_ratio:.2f}) | "
        f"QR: {qr['loyalty_qr_ms']:.2f} ms/code vs qrcode make() "
        f"{qr['qrcode_default_ms']:.2f} ms/code ({qr['ratio']:.1f}x faster) | "
        f"{dialect}, {args.workers} workers, {args.concurrency} threads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
