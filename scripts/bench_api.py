#!/usr/bin/env python3
"""API throughput of a sale through the one request path, against the floor of the stack.

In one run, on one database (a fresh SQLite file, or an empty database named by
--database-url), driven by wrk (Debian's package), a native load generator:

1. the floor: scripts/floor_app.py, a minimal Flask app under the same gunicorn
   settings as `loyalty serve`, whose one view INSERTs a row and COMMITs on the
   same database with the project's connection settings;
2. `loyalty serve` (migrated; a scheme, an approved shop, a till key and wallets
   made through the domain functions): POST /api/v1/claims with the till key
   ("create": the till's half of a sale), then POST /api/v1/claims/<token>/claim
   with wallet tokens, one pre-made claim per request ("collect": the phone's);
3. both again with 50 connections, as 50 tills at once: p50 and p99 latency;
4. between 1 and 2, on the floor's server: the collect without the API layer
   (the floor app's bare view runs the wallet's token lookup and
   loyalty.earning.claims.claim_points in one transaction), which splits a
   collect's cost into the request path's and the domain's with its statements.

It prints each figure with its ratio to the floor measured in the same run, the
server's CPU per request, and a one-line summary. Any answer other than the
expected 201/200 fails the run (exit 1). Every server it starts is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
for path in (ROOT, SCRIPTS):
    if str(path) not in sys.path:  # run as a plain script from a checkout
        sys.path.insert(0, str(path))

EXAMPLE = """\
examples:
  python scripts/bench_api.py                       # SQLite, 10 s per measurement
  python scripts/bench_api.py --duration 5 --runs 3
  psql -h 127.0.0.1 -U postgres -c 'create database bench_x'
  python scripts/bench_api.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x
  psql -h 127.0.0.1 -U postgres -c 'drop database bench_x'
(needs wrk: apt-get install wrk)
"""

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
AMOUNT_CENTS = 1250  # EUR 12.50: 12 points at the default rate
CLAIM_TTL = timedelta(hours=24)  # claims must outlive the whole run
TILLS = 50  # connections of the latency measurement

# wrk scripts. A fixed POST (the floor and create), and a collect that hands each
# request the next unused claim of its thread's share of the pool.
POST_LUA = """
function init(args)
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/json"
  if args[2] ~= nil and args[2] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
end
"""
COLLECT_LUA = """
local counter = 0
function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end
function init(args)
  claims, wallets = {}, {}
  for line in io.lines(args[1]) do claims[#claims + 1] = line end
  for line in io.lines(args[2]) do wallets[#wallets + 1] = line end
  step = tonumber(args[3])
  prefix = args[4] or ""  -- "/domain": the floor app's collect without the API layer
  next_claim = index + 1
end
function request()
  local claim = claims[next_claim]
  if claim == nil then claim = "pool-exhausted" end  -- a 404: the run fails
  next_claim = next_claim + step
  local wallet = wallets[(next_claim % #wallets) + 1]
  return wrk.format("POST", prefix .. "/claims/" .. claim .. "/claim",
                    {["Authorization"] = "Bearer " .. wallet}, "")
end
"""


def say(message: str) -> None:
    print(message, flush=True)


class BenchError(Exception):
    """The benchmark cannot go on (or its figures would be wrong)."""


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """A gunicorn server in its own process group, stopped by stop() (idempotent)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.argv = [*argv, "--port", str(self.port)]
        # Its own address: `loyalty serve` answers no other host.
        self.env = {**env, "PUBLIC_URL": self.url}
        self.log_path = workdir / f"{name.replace(' ', '-')}.log"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: str) -> None:
        say(f"[{self.name}] starting")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.workdir, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", ready)
                status = conn.getresponse().status
                conn.close()
                if status in (200, 405):  # the floor's one view takes POST only
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not start; its log:\n{self.log_tail()}")
            time.sleep(0.2)
        say(f"[{self.name}] listening on {self.url} (pid {self.proc.pid})")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cpu_seconds(self) -> float:
        """User+system CPU seconds of the gunicorn master and its workers (/proc)."""
        assert self.proc is not None
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue  # exited meanwhile
            if int(entry) == self.proc.pid or int(fields[1]) == self.proc.pid:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # gunicorn's graceful shutdown of master and workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        say(f"[{self.name}] stopped")


# --------------------------------------------------------------------------- wrk


@dataclass
class Figure:
    name: str
    rate: float  # requests per second
    requests: int
    p50_ms: float
    p99_ms: float
    server_ms: float  # server CPU per request

    def line(self, floor: Figure | None) -> str:
        ratio = f", {self.rate / floor.rate:.2f} of the floor" if floor else ""
        return (f"[{self.name}] {self.rate:,.0f} req/s{ratio}; p50 {self.p50_ms:.1f} ms, "
                f"p99 {self.p99_ms:.1f} ms; server CPU {self.server_ms:.2f} ms/request")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise BenchError(f"cannot read wrk's latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(name: str, server: Server, url: str, script: Path, args: Sequence[str], *,
        connections: int, seconds: float, threads: int, timed: bool = True) -> Figure:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "10s", "-s", str(script), url, "--", *args]
    cpu0 = server.cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    cpu1 = server.cpu_seconds()
    out = done.stdout
    if done.returncode != 0:
        raise BenchError(f"{name}: wrk failed:\n{out}{done.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or (errors and "timeout" in errors.group(1) and not errors.group(1).endswith(" 0")):
        raise BenchError(f"{name}: unexpected answers or errors:\n{out}\n"
                         f"--- server log ---\n{server.log_tail()}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    figure = Figure(name, rate, requests, p50, p99, 1000 * (cpu1 - cpu0) / max(requests, 1))
    if timed:
        say(f"  {name}: {requests:,} requests in {seconds:g} s")
    return figure


# --------------------------------------------------------------------------- set-up


@dataclass
class Shop:
    till_key: str
    key_id: int
    terms: object
    wallets: list[str]


def migrate_and_seed(database_url: str, env: dict[str, str], workdir: Path,
                     wallets: int) -> Shop:
    say("[setup] migrating: python -m lokaal_sparen db upgrade")
    done = subprocess.run([sys.executable, "-m", "lokaal_sparen", "db", "upgrade"], env=env,
                          cwd=workdir, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise BenchError(f"migration failed:\n{done.stdout}{done.stderr}")

    import floor_app

    from loyalty.access import staff
    from loyalty.infra.db import make_engine, make_session_factory, utcnow
    from loyalty.models import MerchantStatus
    from loyalty.shoppers import wallets as wallet_domain
    from loyalty.town import schemes

    engine = make_engine(database_url)
    floor_app.TABLE.metadata.create_all(engine)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        with make_session_factory(engine)() as session:
            scheme = schemes.create_scheme(session, slug, f"Benchmark {slug}")
            merchant = schemes.create_merchant(
                session, scheme, name="Bakkerij Benchmark", sector="47.24", postcode="9170",
                email=f"{slug}@example.be", status=MerchantStatus.APPROVED,
            )
            key = staff.create_till_key(session, merchant, utcnow(), label="bench")
            tokens = [wallet_domain.create_wallet(session, scheme).token for _ in range(wallets)]
            session.commit()
            till = staff.till_by_key(session, key.secret)
            session.commit()
    finally:
        engine.dispose()
    say(f"[setup] scheme {slug}, an approved shop, a till key, {wallets} wallets")
    return Shop(key.secret, till.key_id, till.terms, tokens)


def make_claims(database_url: str, shop: Shop, count: int, path: Path) -> None:
    """``count`` open claims of the shop, their tokens one per line in ``path``
    (made through the domain function, as the API would: set-up, not timed)."""
    from loyalty.earning import claims
    from loyalty.infra.db import make_engine, make_session_factory, utcnow

    say(f"[setup] making {count:,} claims to collect")
    engine = make_engine(database_url)
    tokens: list[str] = []
    try:
        with make_session_factory(engine)() as session:
            now = utcnow()
            while len(tokens) < count:
                for _ in range(min(2000, count - len(tokens))):
                    tokens.append(claims.create_claim(
                        session, shop.terms, AMOUNT_CENTS, now,  # type: ignore[arg-type]
                        till_key_id=shop.key_id, ttl_seconds=int(CLAIM_TTL.total_seconds()),
                    ).token)
                session.commit()
                if len(tokens) % 10_000 < 2000 or len(tokens) == count:
                    say(f"  {len(tokens):,} of {count:,}")
    finally:
        engine.dispose()
    path.write_text("\n".join(tokens) + "\n")


# --------------------------------------------------------------------------- main


def run_once(args: argparse.Namespace, env: dict[str, str], workdir: Path, shop: Shop,
             servers: list[Server], run: int) -> dict[str, Figure]:
    post_lua = workdir / "post.lua"
    collect_lua = workdir / "collect.lua"
    post_lua.write_text(POST_LUA)
    collect_lua.write_text(COLLECT_LUA)
    wallets = workdir / "wallets.txt"
    wallets.write_text("\n".join(shop.wallets) + "\n")
    sale = f'{{"amount_cents": {AMOUNT_CENTS}}}'
    t = args.threads
    figures: dict[str, Figure] = {}

    floor = Server("floor", [sys.executable, str(SCRIPTS / "floor_app.py"),
                             "--workers", str(args.workers)], env, workdir)
    servers.append(floor)
    floor.start("/floor")
    say(f"[run {run}] floor: {args.warmup:g} s warm-up, {args.duration:g} s timed, "
        f"{args.connections} connections")
    wrk("floor warm-up", floor, floor.url + "/floor", post_lua, [sale],
        connections=args.connections, seconds=args.warmup, threads=t, timed=False)
    figures["floor"] = wrk("floor", floor, floor.url + "/floor", post_lua, [sale],
                           connections=args.connections, seconds=args.duration, threads=t)

    # Claims to collect: enough for every collect window at the floor's pace (no
    # request is faster than the floor), with a margin; each window takes claims
    # nobody has collected yet.
    windows = [("domain collect warm-up", args.connections, args.warmup, False),
               ("collect, domain only", args.connections, args.duration, True),
               ("collect warm-up", args.connections, args.warmup, False),
               ("collect", args.connections, args.duration, True),
               ("collect at 50 tills", TILLS, args.duration, True)]
    shares = {name: int(figures["floor"].rate * seconds * 1.3) + 500
              for name, _c, seconds, _t in windows}
    pool = workdir / f"claims-{run}.txt"
    make_claims(args.database_url, shop, sum(shares.values()), pool)
    lines = pool.read_text().splitlines()

    def collect(name: str, server: Server, prefix: str, connections: int, seconds: float,
                timed: bool) -> None:
        nonlocal lines
        part = workdir / f"{name.replace(' ', '-').replace(',', '')}-{run}.txt"
        part.write_text("\n".join(lines[:shares[name]]) + "\n")
        lines = lines[shares[name]:]
        if timed:
            say(f"[run {run}] {name}: {seconds:g} s timed, {connections} connections")
        figure = wrk(name, server, server.url + prefix + "/claims/x/claim", collect_lua,
                     [str(part), str(wallets), str(t), prefix], connections=connections,
                     seconds=seconds, threads=t, timed=timed)
        if timed:
            figures[name] = figure

    # The collect without the API layer, on the floor's own server.
    for name, connections, seconds, timed in windows[:2]:
        collect(name, floor, "/domain", connections, seconds, timed)
    floor.stop()

    app = Server("loyalty serve", [sys.executable, "-m", "lokaal_sparen", "serve", "--workers",
                                   str(args.workers)], env, workdir)
    servers.append(app)
    app.start("/api/v1/merchants")
    claims_url = app.url + "/api/v1/claims"
    say(f"[run {run}] create: {args.warmup:g} s warm-up, {args.duration:g} s timed")
    wrk("create warm-up", app, claims_url, post_lua, [sale, shop.till_key],
        connections=args.connections, seconds=args.warmup, threads=t, timed=False)
    figures["create"] = wrk("create", app, claims_url, post_lua, [sale, shop.till_key],
                            connections=args.connections, seconds=args.duration, threads=t)
    figures["create at 50 tills"] = wrk(
        "create at 50 tills", app, claims_url, post_lua, [sale, shop.till_key],
        connections=TILLS, seconds=args.duration, threads=t)
    for name, connections, seconds, timed in windows[2:]:
        collect(name, app, "/api/v1", connections, seconds, timed)
    app.stop()
    for name in ("floor", "collect, domain only", "create", "collect", "create at 50 tills",
                 "collect at 50 tills"):
        say(figures[name].line(None if name == "floor" else figures["floor"]))
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per timed measurement (default: 10)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="warm-up seconds before each throughput measurement (default: 2)")
    parser.add_argument("--connections", type=int, default=8,
                        help="wrk connections for throughput (default: 8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default: 2)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers of both servers (default: 2)")
    parser.add_argument("--runs", type=int, default=1,
                        help="measure everything this many times (default: 1)")
    parser.add_argument("--wallets", type=int, default=64,
                        help="wallets that collect the claims (default: 64)")
    parser.add_argument("--database-url", default=None,
                        help="an empty database to migrate and use (default: a fresh "
                        "SQLite file in a temporary directory)")
    args = parser.parse_args(argv)
    if min(args.duration, args.warmup, args.connections, args.threads, args.workers,
           args.runs, args.wallets) <= 0:
        parser.error("every number must be above 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        say("bench_api: wrk is missing (Debian: apt-get install wrk)")
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
        workdir = Path(tmp)
        args.database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
        dialect = args.database_url.split(":", 1)[0].split("+", 1)[0]
        env = {**os.environ, "DATABASE_URL": args.database_url,
               "SECRET_KEY": "bench-api-secret-key"}
        say(f"bench_api: {dialect}, {args.workers} gunicorn workers, wrk {args.threads} "
            f"threads x {args.connections} connections ({TILLS} for latency), "
            f"{args.duration:g} s per measurement, {args.runs} run(s), {os.cpu_count()} CPUs")
        runs: list[dict[str, Figure]] = []
        try:
            shop = migrate_and_seed(args.database_url, env, workdir, args.wallets)
            for run in range(1, args.runs + 1):
                runs.append(run_once(args, env, workdir, shop, servers, run))
        except BenchError as error:
            say(f"bench_api FAILED: {error}")
            return 1
        except KeyboardInterrupt:
            say("bench_api: interrupted")
            return 130
        finally:
            for server in servers:
                server.stop()
    for run, figures in enumerate(runs, 1):
        floor = figures["floor"]
        say(f"run {run} ({dialect}): floor {floor.rate:,.0f} req/s | "
            f"create {figures['create'].rate:,.0f} ({figures['create'].rate / floor.rate:.2f}) | "
            f"collect {figures['collect'].rate:,.0f} "
            f"({figures['collect'].rate / floor.rate:.2f}) | collect without the API layer "
            f"{figures['collect, domain only'].rate:,.0f} "
            f"({figures['collect, domain only'].rate / floor.rate:.2f}) | "
            f"at {TILLS} tills: create p50/p99 "
            f"{figures['create at 50 tills'].p50_ms:.1f}/"
            f"{figures['create at 50 tills'].p99_ms:.1f} ms, collect p50/p99 "
            f"{figures['collect at 50 tills'].p50_ms:.1f}/"
            f"{figures['collect at 50 tills'].p99_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
