#!/usr/bin/env python3
"""Page-weight and server-time benchmark of the shopper's wallet pages on a phone.

In one run it:

1. loads the Sint-Gillis-Waas demo into a fresh SQLite database in a temporary
   directory (`python -m lokaal_sparen demo --no-serve`), starts
   `python -m lokaal_sparen serve --workers N` on a free port and makes two claims of
   EUR 23.50 through the API (staff login -> POST /api/v1/auth/token -> POST
   /api/v1/merchants/1/api-keys -> POST /api/v1/claims): one for the browser,
   one that stays open for the timing of the claim page;
2. drives headless Chromium as a 390x844 touch phone through the shopper's flow:
   open the claim URL, tap "Collect points", open /wallet, ask for a spend code.
   For the claim page, /wallet and the spend-code page it measures the bytes
   transferred on a FIRST visit (a fresh browser context: empty HTTP cache, no
   service worker; for /wallet and the code page only the wallet cookie is
   copied in) and on a REPEAT visit (a reload in that same context, where the
   service worker and the HTTP cache may answer). The bytes are, per response,
   CDP `Network.loadingFinished` encodedDataLength (headers + encoded body as
   received) on the page's own session, plus the requests the service worker
   makes itself (its install pre-caches the assets), which the page session does
   not see: those come from Playwright's network events (Request.sizes()).
   Responses answered by the service worker's cache or the HTTP cache count 0.
   A visit lasts until the load event, the service worker is ready and the
   network has been quiet for --quiet-ms;
3. times sequential GETs (default 50 each, after a warm-up, interleaved so that
   any drift hits every path alike) of /wallet, /shops, /account and the open
   claim page, sent with `requests` and the browser's wallet cookie, and as a
   baseline GET /manifest.webmanifest (a trivial view of the same app on the
   same server). The times are taken at the client over loopback, so they
   include the TCP connect and gunicorn's own work; the baseline pays the same,
   which is why each page is also shown as a ratio to it (and as ms above it);
4. prints a table and a one-line summary, and exits 1 when the first-visit
   weight of /wallet exceeds --budget-kb (1 KB = 1000 bytes).

The server is stopped in every case, also on errors and Ctrl+C.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

EXAMPLE = """\
examples:
  .venv/bin/python scripts/bench_pages.py
  .venv/bin/python scripts/bench_pages.py --requests 200 --workers 4 --verbose
  .venv/bin/python scripts/bench_pages.py --budget-kb 40   # a stricter goal
"""

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
DEMO_TIMEOUT = 600.0
STAFF_EMAIL = "eigenaar@bakkerij-de-smet.example"
STAFF_PASSWORD = "lokaal-sparen-demo"  # noqa: S105  (the demo's published password)
MERCHANT_ID = 1
AMOUNT_CENTS = 2350
SPEND_POINTS = 10
WALLET_COOKIE = "ls_wallet"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "nl-BE",
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
}
ACCEPT_LANGUAGE = "nl-BE,nl;q=0.9"
BASELINE = "/manifest.webmanifest"


def say(message: str) -> None:
    print(message, flush=True)


class BenchError(Exception):
    """The benchmark cannot go on (or its figures would be wrong)."""


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m lokaal_sparen serve` in its own process group; stop() is idempotent."""

    def __init__(self, workers: int, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.argv = [sys.executable, "-m", "lokaal_sparen", "serve", "--host", HOST,
                     "--port", str(self.port), "--workers", str(workers)]
        # Its own address: the app refuses requests for any host but PUBLIC_URL's.
        self.env = {**env, "PUBLIC_URL": self.base}
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        say(f"[server] starting: {' '.join(self.argv[1:])}")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, cwd=self.workdir, stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C reaches us only; we stop it ourselves
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.base + BASELINE, timeout=5).status_code == 200:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the server did not start; its log:\n{self.log_tail()}")
            time.sleep(0.2)
        say(f"[server] listening on {self.base} (pid {self.proc.pid})")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: gunicorn's graceful shutdown of master and workers
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            say(f"[server] did not stop in {STOP_TIMEOUT:.0f} s; killing its process group")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
        say("[server] stopped")


def load_demo(env: dict[str, str], workdir: Path) -> None:
    say("[demo] python -m lokaal_sparen demo --no-serve")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lokaal_sparen", "demo", "--no-serve"],
        env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    output: list[str] = []
    try:
        for line in proc.stdout:
            output.append(line.rstrip())
            if line.strip() and not line.startswith("Staff logins") and "@" not in line:
                say(f"[demo] {line.strip()}")
        proc.wait(timeout=DEMO_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise BenchError("the demo failed to load:\n" + "\n".join(output[-30:]))
    say(f"[demo] loaded in {time.perf_counter() - t0:.1f} s")


def api(method: str, url: str, wanted: int, **kwargs: Any) -> dict[str, Any]:
    response = requests.request(method, url, timeout=30, **kwargs)
    if response.status_code != wanted:
        raise BenchError(f"{method} {urlsplit(url).path}: HTTP {response.status_code} "
                         f"{response.text[:300]}")
    data: dict[str, Any] = response.json()
    return data


def make_claims(base: str, count: int) -> list[str]:
    """Claim URLs made the way a till integration does it."""
    say(f"[api] POST /api/v1/auth/token as {STAFF_EMAIL}")
    token = api("POST", f"{base}/api/v1/auth/token", 201,
                json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})["token"]
    say(f"[api] POST /api/v1/merchants/{MERCHANT_ID}/api-keys")
    key = api("POST", f"{base}/api/v1/merchants/{MERCHANT_ID}/api-keys", 201,
              json={"label": "bench_pages"}, headers={"Authorization": f"Bearer {token}"})["key"]
    urls = []
    for _ in range(count):
        claim = api("POST", f"{base}/api/v1/claims", 201, json={"amount_cents": AMOUNT_CENTS},
                    headers={"Authorization": f"Bearer {key}"})
        say(f"[api] POST /api/v1/claims -> {claim['points']} points, {claim['url']}")
        urls.append(claim["url"])
    return urls


# --------------------------------------------------------------------------- page weight


@dataclass
class Transfer:
    url: str
    status: int
    size: int  # bytes received: headers + encoded body; 0 when served from a cache
    source: str  # network | sw-network | sw-cache | http-cache | failed
    kind: str


@dataclass
class _Pending:
    url: str
    kind: str
    status: int = 0
    from_sw: bool = False
    from_cache: bool = False


@dataclass
class Visit:
    name: str
    transfers: list[Transfer] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(t.size for t in self.transfers)

    def count(self, *sources: str) -> int:
        return sum(1 for t in self.transfers if t.source in sources)


class Recorder:
    """Counts the bytes one page (and the context's service worker) receives."""

    def __init__(self, context: Any, page: Any) -> None:
        self.page = page
        self.pending: dict[str, _Pending] = {}
        self.done: list[Transfer] = []
        self.sw_requests: list[Any] = []
        self.last_event = time.monotonic()
        cdp = context.new_cdp_session(page)
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "Network.requestWillBeSent": self._will_be_sent,
            "Network.responseReceived": self._response,
            "Network.requestServedFromCache": self._from_cache,
            "Network.loadingFinished": self._finished,
            "Network.loadingFailed": self._failed,
        }
        for event, handler in handlers.items():
            cdp.on(event, handler)
        cdp.send("Network.enable")
        # The service worker's own fetches (sw.js, the install's cache.addAll, cache
        # misses) run in another target that this page session does not see.
        context.on("requestfinished", self._pw_finished)

    def _touch(self) -> None:
        self.last_event = time.monotonic()

    def _will_be_sent(self, event: dict[str, Any]) -> None:
        self._touch()
        rid = event["requestId"]
        redirect = event.get("redirectResponse")
        if redirect is not None and rid in self.pending:
            old = self.pending.pop(rid)
            self.done.append(Transfer(old.url, int(redirect["status"]),
                                      int(redirect.get("encodedDataLength", 0)),
                                      "network", old.kind))
        self.pending[rid] = _Pending(event["request"]["url"], event.get("type", "Other"))

    def _response(self, event: dict[str, Any]) -> None:
        self._touch()
        entry = self.pending.get(event["requestId"])
        if entry is not None:
            response = event["response"]
            entry.status = int(response["status"])
            entry.from_sw = bool(response.get("fromServiceWorker"))
            entry.from_cache = entry.from_cache or bool(
                response.get("fromDiskCache") or response.get("fromPrefetchCache"))

    def _from_cache(self, event: dict[str, Any]) -> None:
        self._touch()
        entry = self.pending.get(event["requestId"])
        if entry is not None:
            entry.from_cache = True

    def _finished(self, event: dict[str, Any]) -> None:
        self._touch()
        entry = self.pending.pop(event["requestId"], None)
        if entry is None:
            return
        size = int(event.get("encodedDataLength", 0))
        if entry.from_sw:
            # The worker answered; if it went to the network, that fetch is
            # counted from the worker's own events, not twice.
            source, size = "sw-cache", 0
        elif entry.from_cache:
            source, size = "http-cache", 0
        else:
            source = "network"
        self.done.append(Transfer(entry.url, entry.status, size, source, entry.kind))

    def _failed(self, event: dict[str, Any]) -> None:
        self._touch()
        entry = self.pending.pop(event["requestId"], None)
        if entry is not None:
            self.done.append(Transfer(entry.url, entry.status, 0, "failed",
                                      f"{entry.kind}: {event.get('errorText', '?')}"))

    def _pw_finished(self, request: Any) -> None:
        self._touch()
        if request.service_worker is not None:
            self.sw_requests.append(request)

    def _sw_transfers(self) -> list[Transfer]:
        out = []
        for request in self.sw_requests:
            response = request.response()
            sizes = request.sizes()
            body = int(sizes["responseBodySize"])
            headers = response.all_headers() if response is not None else {}
            if body <= 0 and headers.get("content-length", "").isdigit():
                # Chromium does not report the body of the worker's script fetch;
                # Content-Length is that body's size as sent.
                body = int(headers["content-length"])
            size = max(0, body) + max(0, int(sizes["responseHeadersSize"]))
            status = response.status if response is not None else 0
            out.append(Transfer(request.url, status, size, "sw-network", request.resource_type))
        return out

    def visit(self, name: str, action: Callable[[], Any], *, quiet_ms: int,
              first: bool) -> Visit:
        """Run ``action`` (a navigation) and return what it transferred."""
        self.done, self.sw_requests = [], []
        self.pending.clear()
        action()
        if first:
            # Let the service worker finish installing: its pre-cache is part of
            # what the first visit costs.
            self.page.evaluate(
                "() => 'serviceWorker' in navigator ? Promise.race([navigator.serviceWorker"
                ".ready.then(() => true), new Promise(r => setTimeout(() => r(false), 5000))])"
                " : false"
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            quiet = (time.monotonic() - self.last_event) * 1000 >= quiet_ms
            if quiet and not self.pending:
                break
            self.page.wait_for_timeout(50)  # lets Playwright deliver the events
        visit = Visit(name, [*self.done, *self._sw_transfers()])
        self.done, self.sw_requests = [], []
        return visit


def check_page(page: Any, marker: str, what: str) -> None:
    if page.locator(marker).count() == 0:
        raise BenchError(f"{what}: {page.url} does not show {marker!r}:\n"
                         f"{page.inner_text('body')[:400]}")


def measure_weights(
    base: str, claim_url: str, quiet_ms: int, verbose: bool
) -> tuple[dict[str, tuple[Visit, Visit]], list[Visit], dict[str, str]]:
    """Returns {page: (first, repeat)}, the visits of the flow, and the browser's cookies."""
    from playwright.sync_api import sync_playwright

    results: dict[str, tuple[Visit, Visit]] = {}
    flow: list[Visit] = []

    def show(visit: Visit) -> None:
        say(f"  {visit.name}: {visit.size / 1000:.1f} KB in {len(visit.transfers)} responses "
            f"({visit.count('network', 'sw-network')} over the network, "
            f"{visit.count('sw-cache', 'http-cache')} from a cache)")
        if verbose:
            for t in visit.transfers:
                say(f"      {t.size:7d} B  {t.status:3d} {t.source:10} {t.kind:10} "
                    f"{urlsplit(t.url).path}")
        failed = [t for t in visit.transfers if t.source == "failed"]
        for t in failed:
            say(f"    warning: failed request {t.url} ({t.kind})")

    def go(page: Any, url: str) -> Callable[[], Any]:
        def action() -> None:
            response = page.goto(url, wait_until="load")
            if response is None or response.status != 200:
                status = response.status if response is not None else "no response"
                raise BenchError(f"GET {url}: {status}")
        return action

    def reload(page: Any) -> Callable[[], Any]:
        return lambda: page.reload(wait_until="load")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The shopper's phone: the whole flow in one context.
            say("[browser] phone 390x844: open the claim URL (first visit, empty cache)")
            phone = browser.new_context(**PHONE)
            page = phone.new_page()
            rec = Recorder(phone, page)
            claim_first = rec.visit("claim page, first visit", go(page, claim_url),
                                    quiet_ms=quiet_ms, first=True)
            check_page(page, "form button[type=submit]", "claim page")
            show(claim_first)
            say("[browser] reload the claim page (repeat visit)")
            claim_repeat = rec.visit("claim page, repeat visit", reload(page),
                                     quiet_ms=quiet_ms, first=False)
            show(claim_repeat)
            results["claim page (/c/<token>)"] = (claim_first, claim_repeat)

            say("[browser] tap 'Collect points'")

            def collect() -> None:
                with page.expect_navigation(wait_until="load"):
                    page.tap("main form button[type=submit]")

            collected = rec.visit("collect (POST /c/<token>)", collect, quiet_ms=quiet_ms,
                                  first=False)
            check_page(page, ".success", "after collecting")
            show(collected)
            flow.append(collected)
            cookies = {c["name"]: c["value"] for c in phone.cookies(base)}
            if WALLET_COOKIE not in cookies:
                raise BenchError(f"no {WALLET_COOKIE} cookie after collecting the points")

            say("[browser] open /wallet in the same context")
            wallet_flow = rec.visit("/wallet after collecting", go(page, base + "/wallet"),
                                    quiet_ms=quiet_ms, first=False)
            check_page(page, ".balance-card", "/wallet")
            show(wallet_flow)
            flow.append(wallet_flow)

            say(f"[browser] ask for a spend code of {SPEND_POINTS} points")

            def spend() -> None:
                page.fill("input[name=points]", str(SPEND_POINTS))
                with page.expect_navigation(url="**/wallet/code/*", wait_until="load"):
                    page.tap("form[action$='/wallet/spend'] button.primary")

            spent = rec.visit("spend (POST /wallet/spend -> code)", spend, quiet_ms=quiet_ms,
                              first=False)
            check_page(page, ".code-screen", "spend-code page")
            show(spent)
            flow.append(spent)
            code_url = page.url
            phone.close()

            # First and repeat visits of the wallet pages on a phone with the wallet
            # cookie only: empty HTTP cache, no service worker yet.
            for label, url, marker in [
                ("/wallet", base + "/wallet", ".balance-card"),
                ("spend-code page (/wallet/code/<code>)", code_url, ".code-screen"),
            ]:
                say(f"[browser] {label}: first visit in a fresh context (wallet cookie only)")
                context = browser.new_context(**PHONE)
                context.add_cookies([{"name": WALLET_COOKIE, "value": cookies[WALLET_COOKIE],
                                      "url": base}])
                page = context.new_page()
                rec = Recorder(context, page)
                first = rec.visit(f"{label}, first visit", go(page, url), quiet_ms=quiet_ms,
                                  first=True)
                check_page(page, marker, label)
                show(first)
                say(f"[browser] {label}: reload (repeat visit)")
                repeat = rec.visit(f"{label}, repeat visit", reload(page), quiet_ms=quiet_ms,
                                   first=False)
                check_page(page, marker, label)
                show(repeat)
                results[label] = (first, repeat)
                context.close()
        finally:
            browser.close()
    return results, flow, cookies


# --------------------------------------------------------------------------- server time


@dataclass
class Timing:
    path: str
    samples: list[float]  # seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples)  # nearest rank
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000


def measure_times(base: str, claim_path: str, cookie: str, n: int,
                  warmup: int) -> tuple[list[Timing], Timing]:
    markers = {
        "/wallet": "balance-card",
        "/shops": 'class="filters"',
        "/account": "/account/export",
        claim_path: 'class="card center claim"',
        BASELINE: '"start_url"',
    }
    paths = list(markers)
    http = requests.Session()
    http.headers.update({"Cookie": f"{WALLET_COOKIE}={cookie}",
                         "Accept-Language": ACCEPT_LANGUAGE})
    samples: dict[str, list[float]] = {path: [] for path in paths}
    say(f"[time] {warmup} warm-up rounds, then {n} timed rounds of GET "
        + ", ".join(p if p != claim_path else "/c/<token>" for p in paths))
    for i in range(warmup + n):
        for path in paths:
            t0 = time.perf_counter()
            response = http.get(base + path, timeout=30, allow_redirects=False)
            body = response.text
            elapsed = time.perf_counter() - t0
            if response.status_code != 200 or markers[path] not in body:
                raise BenchError(f"GET {path}: HTTP {response.status_code}, "
                                 f"{markers[path]!r} not in the answer: {body[:300]}")
            if i >= warmup:
                samples[path].append(elapsed)
        done = i + 1 - warmup
        if done > 0 and (done % 10 == 0 or done == n):
            say(f"  {done}/{n} rounds, /wallet median so far "
                f"{statistics.median(samples['/wallet']) * 1000:.1f} ms")
    pages = [Timing(p, samples[p]) for p in paths if p != BASELINE]
    return pages, Timing(BASELINE, samples[BASELINE])


# --------------------------------------------------------------------------- report


def kb(size: int) -> str:
    return f"{size / 1000:.1f} KB"


def print_report(weights: dict[str, tuple[Visit, Visit]], flow: list[Visit],
                 pages: list[Timing], baseline: Timing, claim_path: str,
                 args: argparse.Namespace) -> None:
    say("")
    say("Page weight on a 390x844 phone (1 KB = 1000 bytes; headers + encoded bodies)")
    head = f"{'page':40} {'first visit':>12} {'responses':>9} {'repeat':>10} {'responses':>9}"
    say(head)
    say("-" * len(head))
    for label, (first, repeat) in weights.items():
        say(f"{label:40} {kb(first.size):>12} {len(first.transfers):>9} "
            f"{kb(repeat.size):>10} {len(repeat.transfers):>9}")
    say("  (first visit: fresh context, service worker install included; repeat: reload")
    say("   in the same context; responses = all, also those answered from a cache)")
    say("")
    say("In the flow on one phone")
    for visit in flow:
        say(f"  {visit.name:40} {kb(visit.size):>10} {len(visit.transfers):>3} responses")
    say("")
    say(f"Response time over loopback, {args.requests} sequential GETs each "
        f"(gunicorn, {args.workers} workers)")
    head = f"{'path':24} {'median':>9} {'p95':>9} {'x baseline':>11} {'+ms':>7}"
    say(head)
    say("-" * len(head))
    for t in [*pages, baseline]:
        name = "/c/<token>" if t.path == claim_path else t.path
        ratio = t.median_ms / baseline.median_ms
        extra = t.median_ms - baseline.median_ms
        say(f"{name:24} {t.median_ms:7.1f} ms {t.p95_ms:6.1f} ms {ratio:10.1f}x {extra:+7.1f}")
    say(f"  (baseline: GET {BASELINE}, a trivial view on the same server; "
        "+ms = median above it)")


# --------------------------------------------------------------------------- main


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=_positive_int, default=50,
                        help="timed GETs per path (default: 50)")
    parser.add_argument("--warmup", type=int, default=5,
                        help="untimed rounds before the timing (default: 5)")
    parser.add_argument("--workers", type=_positive_int, default=2,
                        help="gunicorn workers (default: 2)")
    parser.add_argument("--budget-kb", type=float, default=60.0,
                        help="goal for the first visit of /wallet, in KB of 1000 bytes; "
                        "above it the script exits 1 (default: 60)")
    parser.add_argument("--quiet-ms", type=_positive_int, default=500,
                        help="a visit ends after this long without network events "
                        "(default: 500)")
    parser.add_argument("--verbose", action="store_true",
                        help="list every response of every visit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, through the finally that stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench_pages_") as tmp:
        workdir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "ACCESS_LOG")}
        # PUBLIC_URL is the server's own http:// address (Server): claim URLs point
        # at it and cookies are not Secure.
        env.update({"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
                    "SECRET_KEY": "bench-pages-secret-key"})
        say(f"bench_pages: SQLite in {workdir}, {args.workers} gunicorn workers, "
            f"{os.cpu_count()} CPUs, Chromium {CHROMIUM}")
        server = Server(args.workers, env, workdir)
        try:
            load_demo(env, workdir)
            server.start()
            browser_claim, timed_claim = make_claims(server.base, 2)
            weights, flow, cookies = measure_weights(server.base, browser_claim,
                                                     args.quiet_ms, args.verbose)
            claim_path = urlsplit(timed_claim).path
            pages, baseline = measure_times(server.base, claim_path, cookies[WALLET_COOKIE],
                                            args.requests, args.warmup)
        except BenchError as error:
            say(f"bench_pages FAILED: {error}")
            if server.proc is not None:
                say(f"--- server log (tail) ---\n{server.log_tail()}")
            return 1
        except KeyboardInterrupt:
            say("bench_pages: interrupted")
            return 130
        finally:
            server.stop()

    print_report(weights, flow, pages, baseline, claim_path, args)
    first, repeat = weights["/wallet"]
    wallet_time = next(t for t in pages if t.path == "/wallet")
    budget = args.budget_kb * 1000
    say("")
    say(f"wallet first visit {kb(first.size)} (goal <= {args.budget_kb:g} KB), repeat "
        f"{kb(repeat.size)}; server time /wallet median {wallet_time.median_ms:.1f} ms "
        f"({wallet_time.median_ms / baseline.median_ms:.1f}x a trivial view)")
    if first.size > budget:
        say(f"FAILED: the first visit of /wallet weighs {kb(first.size)}, "
            f"above the goal of {args.budget_kb:g} KB")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
