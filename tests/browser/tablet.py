"""The till's tablet for the portal's browser tests: a Playwright page that watches itself.

A tablet records every request its pages make, the console and script errors
and the headers of every document, so the fixture can check after each test
that nothing went to another host than 127.0.0.1, that no page had a script
error or a CSP violation, and that every page carried the strict CSP.
``tablet.check(name)`` saves a 1024x768 screenshot and runs axe-core.

The shopper's side (a wallet collecting points, making spend codes) goes
through the real JSON API with ``requests``, as the phone's page would.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from babel.numbers import format_currency
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Response,
    ViewportSize,
)

from loyalty.infra.db import make_engine
from loyalty.models import StaffUser
from loyalty.web import i18n
from tests.browser.overflow import assert_no_horizontal_overflow
from tests.conftest import ROOT, LiveServer
from tests.factories import PASSWORD, bearer, code_after

ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
TABLET = ViewportSize(width=1024, height=768)
# What the browser sends; the app matches on the language part.
LOCALES = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB"}
BLOCKING_IMPACTS = ("serious", "critical")
API_TIMEOUT = 15
# How Chromium reports a page or file that came back with an HTTP error.
HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")

FAVICON_404 = re.compile(r"status of 404 .*/favicon\.ico\)$")

_axe = Axe()


def euro(cents: int, lang: str = "en") -> str:
    """An amount as the server writes it in this language."""
    return format_currency(cents / 100, "EUR", locale=i18n.BABEL_LOCALES[lang])


def squash(text: str) -> str:
    """Whitespace (also no-break spaces) folded to single spaces, as a reader sees it."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Tablet:
    """One browser context at the till: its own cookies, signed in as one staff member."""

    context: BrowserContext
    page: Page
    server: LiveServer
    lang: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    documents: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    # HTTP error statuses a test provokes on purpose (a wrong PIN answers 401).
    expected_statuses: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.on("response", self._on_response)
        self.context.on("console", self._on_console)
        self.context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.status, response.all_headers()))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    # -- moving around --------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.server.url + path

    def goto(self, path: str, status: int = 200) -> Response:
        if status >= 400:
            self.expected_statuses.add(status)
        response = self.page.goto(self.url(path))
        assert response is not None
        assert response.status == status, f"{path}: {response.status}"
        return response

    def submit(self, button: Locator, status: int = 200) -> Response:
        """Click a form's button; the status of the page the browser lands on."""
        if status >= 400:
            self.expected_statuses.add(status)
        with self.page.expect_navigation() as navigation:
            button.click()
        response = navigation.value
        assert response is not None
        assert response.status == status, f"{response.url}: {response.status}"
        return response

    @contextmanager
    def provoking(self, *statuses: int) -> Iterator[None]:
        """Pages within answer with these HTTP errors on purpose (Chromium logs them)."""
        self.expected_statuses.update(statuses)
        yield

    def sign_in(self, email: str, password: str = PASSWORD, status: int = 200) -> Response:
        """Sign in on /login (and type the code when asked); a staff member of a shop
        lands on the till."""
        if not self.page.url.startswith(self.url("/login")):
            self.goto("/login")
        self.page.locator("input[name=email]").fill(email)
        self.page.locator("input[name=password]").fill(password)
        response = self.submit(self.page.locator("form button[type=submit]"), status)
        if urlsplit(self.page.url).path == "/login/code":
            self.page.locator("input[name=code]").fill(self.code_for(email))
            response = self.submit(self.page.locator("form button[type=submit]"), status)
        return response

    def code_for(self, email: str) -> str:
        """The code the user's phone shows now (tests.factories.code_after)."""
        engine = make_engine(self.server.database_url)
        try:
            with engine.connect() as conn:
                secret, last = conn.execute(
                    sa.select(StaffUser.totp_secret, StaffUser.totp_last_step)
                    .where(StaffUser.email == email.lower())
                ).one()
        finally:
            engine.dispose()
        return code_after(last, secret)

    def csrf_token(self) -> str:
        token = self.page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert token
        return token

    def press_keys(self, keys: str) -> None:
        """Tap digits on the till's on-screen number pad."""
        pad = self.page.locator(".pad")
        for key in keys:
            pad.locator(f'button[data-key="{key}"]').click()

    # -- what the tablet shows ---------------------------------------------------------

    def screenshot(self, name: str, *, docs_name: str | None = None) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"portal-{name}-{self.lang}.png"
        self.page.screenshot(path=str(shot))
        # The README's pictures change only when asked (UPDATE_SCREENSHOTS=1).
        if docs_name and os.environ.get("UPDATE_SCREENSHOTS"):
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_SCREENSHOTS / docs_name)

    def check(self, name: str, *, docs_name: str | None = None) -> None:
        """A screenshot for people to look at; nothing wider than the screen;
        axe-core finds nothing serious or critical."""
        self.screenshot(name, docs_name=docs_name)
        assert_no_horizontal_overflow(self.page, name)
        violations = _axe.run(self.page).response["violations"]
        axe_dir = ARTIFACTS / "axe"
        axe_dir.mkdir(parents=True, exist_ok=True)
        (axe_dir / f"portal-{name}-{self.lang}.json").write_text(json.dumps(violations, indent=2))
        blocking = [
            f"{v['impact']} {v['id']}: {v['help']} at "
            + ", ".join(str(node["target"]) for node in v["nodes"])
            for v in violations
            if v["impact"] in BLOCKING_IMPACTS
        ]
        assert not blocking, f"axe on {name}:\n" + "\n".join(blocking)

    def qr_text(self, element: Locator) -> str:
        """Read the QR code on the screen back, as a shopper's camera would."""
        found = decode_qr(element.screenshot())
        assert len(found) == 1, f"expected one QR code, read {found}"
        return found[0]

    def problems(self) -> list[str]:
        """Other hosts, console or script errors, CSP violations, pages without the CSP."""
        found = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue  # inline images never leave the tablet
            if parts.scheme not in ("http", "https") or parts.hostname != "127.0.0.1":
                found.append(f"request to another host: {url}")
        error_pages = any(status >= 400 for _url, status, _headers in self.documents)
        for text in self.console_errors:
            http = HTTP_ERROR.search(text)
            if http and int(http.group(1)) in self.expected_statuses:
                continue
            if error_pages and FAVICON_404.search(text):
                # Flask's plain error pages name no icon, so Chromium asks for
                # /favicon.ico, which the app does not serve (reported, in loyalty/).
                continue
            kind = "CSP violation" if "Content Security Policy" in text else "console error"
            found.append(f"{kind}: {text}")
        found += [f"script error: {text}" for text in self.page_errors]
        for url, status, headers in self.documents:
            csp = headers.get("content-security-policy", "")
            if "default-src 'self'" not in csp or "script-src 'self'" not in csp:
                found.append(f"no strict CSP on {url}: {csp!r}")
            if status >= 400 and status not in self.expected_statuses:
                found.append(f"unexpected HTTP {status} for {url}")
        return found


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    image.load()
    return [barcode.text for barcode in zxingcpp.read_barcodes(image.convert("L"))]


# -- the shopper's phone and the shop's till system, through the real API ------------


def _post(server: LiveServer, path: str, token: str, body: Any = None) -> dict[str, Any]:
    response = requests.post(
        server.api(path), json=body or {}, headers=bearer(token), timeout=API_TIMEOUT
    )
    assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text}"
    answer: dict[str, Any] = response.json()
    return answer


def _get(server: LiveServer, path: str, token: str | None = None) -> Any:
    headers = bearer(token) if token else {}
    response = requests.get(server.api(path), headers=headers, timeout=API_TIMEOUT)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


def new_wallet(server: LiveServer, scheme_slug: str) -> str:
    response = requests.post(
        server.api("/wallets"), json={"scheme": scheme_slug}, timeout=API_TIMEOUT
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["wallet_token"]
    return token


def claim_token(claim_url: str, server: LiveServer) -> str:
    """The token of a claim URL that the till's QR code shows."""
    match = re.fullmatch(re.escape(server.url) + r"/c/([A-Za-z0-9_-]+)", claim_url)
    assert match, f"not a claim URL of this server: {claim_url!r}"
    return match.group(1)


def collect(server: LiveServer, wallet: str, token: str) -> dict[str, Any]:
    """The shopper's phone collects a claim."""
    return _post(server, f"/claims/{token}/claim", wallet)


def till_sale(server: LiveServer, till_key: str, **body: Any) -> dict[str, Any]:
    """A sale from the shop's own till system (its till key), as the API allows."""
    return _post(server, "/claims", till_key, body)


def spend_code(server: LiveServer, wallet: str, **body: Any) -> dict[str, Any]:
    """The shopper makes a one-time code: {"points": n} or {"voucher_id": id}."""
    return _post(server, "/wallet/redemptions", wallet, body)


def code_status(server: LiveServer, wallet: str, code: str) -> dict[str, Any]:
    answer: dict[str, Any] = _get(server, f"/wallet/redemptions/{code}", wallet)
    return answer


def wallet_view(server: LiveServer, wallet: str) -> dict[str, Any]:
    answer: dict[str, Any] = _get(server, "/wallet", wallet)
    return answer


def cancel_sale(server: LiveServer, till_key: str, token: str) -> dict[str, Any]:
    return _post(server, f"/claims/{token}/cancel", till_key)
