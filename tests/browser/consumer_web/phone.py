"""A shopper's phone for the browser tests: a Playwright page that watches itself.

Every phone records each request its pages make, the console errors, the
uncaught script errors and the headers of every document, so the fixture can
check after each test that nothing went to a third-party host and that the
Content-Security-Policy held. ``phone.check(name)`` runs axe-core on the page
and saves a 390x844 screenshot under test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from axe_playwright_python.sync_playwright import Axe
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations
from playwright.sync_api import BrowserContext, Page, Request, Response

from loyalty.web import i18n
from tests.browser.overflow import assert_no_horizontal_overflow
from tests.conftest import ROOT, LiveServer, Mailbox
from tests.factories import Shop

ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
TRANSLATIONS = ROOT / "loyalty" / "translations"
PHONE_VIEWPORT = {"width": 390, "height": 844}
# What the browser sends; the app matches on the language part.
LOCALES = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB"}
BABEL_LOCALES = i18n.BABEL_LOCALES  # the locales the server formats with
BLOCKING_IMPACTS = ("serious", "critical")
API_TIMEOUT = 15

_axe = Axe()


# -- the words the app shows, from the same compiled catalogues the server reads --


class Words:
    """gettext, euro and number formatting as the server does them for one language.

    Reading the compiled catalogue (not hard-coding Dutch or French) keeps the
    tests independent of the exact wording a translator chose; the language
    test checks separately that the catalogues are really translated.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = BABEL_LOCALES[lang]
        self.catalogue: NullTranslations = Translations.load(str(TRANSLATIONS), [lang])

    def __call__(self, msgid: str, **variables: Any) -> str:
        text = self.catalogue.gettext(msgid)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        """Like flask_babel.ngettext: ``num`` is chosen on and also a variable."""
        return self.catalogue.ngettext(singular, plural, num) % {"num": num, **variables}

    def euro(self, cents: int) -> str:
        return format_currency(cents / 100, "EUR", locale=self.locale)

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)


def squash(text: str) -> str:
    """Whitespace (also no-break spaces) folded to single spaces, as a reader sees it."""
    return re.sub(r"\s+", " ", text).strip()


# -- the phone ------------------------------------------------------------------


@dataclass
class Phone:
    context: BrowserContext
    page: Page
    server: LiveServer
    lang: str
    javascript: bool
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    documents: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.words = Words(self.lang)
        self.context.on("request", self._on_request)
        self.context.on("response", self._on_response)
        # On the context, so that every tab of this phone is watched.
        self.context.on("console", self._on_console)
        self.context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.all_headers()))

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.server.url + path

    def goto(self, path: str, status: int = 200) -> Response:
        response = self.page.goto(self.url(path))
        assert response is not None
        assert response.status == status, f"{path}: {response.status}"
        return response

    def check(self, name: str, *, docs_name: str | None = None) -> None:
        """axe-core finds nothing serious or critical; a screenshot for people to look at."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(shot))
        # The README's pictures change only when asked (UPDATE_SCREENSHOTS=1), so a
        # test run leaves the working tree clean.
        if docs_name and os.environ.get("UPDATE_SCREENSHOTS"):
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_SCREENSHOTS / docs_name)
        assert_no_horizontal_overflow(self.page, name)
        if not self.javascript:
            return  # axe is a script: it runs in the JavaScript phones, on the same pages
        violations = _axe.run(self.page).response["violations"]
        axe_dir = ARTIFACTS / "axe"
        axe_dir.mkdir(parents=True, exist_ok=True)
        (axe_dir / f"{name}.json").write_text(json.dumps(violations, indent=2))
        blocking = [
            f"{v['impact']} {v['id']}: {v['help']} at "
            + ", ".join(str(node["target"]) for node in v["nodes"])
            for v in violations
            if v["impact"] in BLOCKING_IMPACTS
        ]
        assert not blocking, f"axe on {name}:\n" + "\n".join(blocking)

    def problems(self) -> list[str]:
        """Third-party requests, CSP violations, script errors, documents without the CSP."""
        found = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue  # inline images never leave the phone
            if parts.scheme not in ("http", "https") or parts.hostname != "127.0.0.1":
                found.append(f"request to another host: {url}")
        found += [
            f"CSP violation: {text}"
            for text in self.console_errors
            if re.search(r"content.security.policy", text, re.IGNORECASE)
        ]
        found += [f"script error: {text}" for text in self.page_errors]
        for url, headers in self.documents:
            csp = headers.get("content-security-policy", "")
            if "default-src 'self'" not in csp or "script-src 'self'" not in csp:
                found.append(f"no strict CSP on {url}: {csp!r}")
        return found


# -- the till, through the real API ------------------------------------------------


def create_claim(server: LiveServer, shop: Shop, amount_cents: int) -> dict[str, Any]:
    """What the till does at a sale: its answer holds the URL the QR code shows."""
    response = requests.post(
        server.api("/claims"),
        json={"amount_cents": amount_cents},
        headers=shop.headers,
        timeout=API_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def claim_status(server: LiveServer, shop: Shop, token: str) -> str:
    response = requests.get(server.api(f"/claims/{token}"), headers=shop.headers, timeout=15)
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def confirm_code(server: LiveServer, shop: Shop, code: str) -> dict[str, Any]:
    response = requests.post(
        server.api(f"/redemptions/{code}/confirm"), headers=shop.headers, timeout=API_TIMEOUT
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- e-mail -------------------------------------------------------------------------


def new_mail(mailbox: Mailbox, to: str, seen: int, timeout: float = 15.0) -> str:
    """The body of the first message to ``to`` after the ``seen`` earlier ones."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [m for m in list(mailbox.messages) if m["To"] == to]
        if len(mine) > seen:
            content: str = mine[seen].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            return content
        time.sleep(0.1)
    raise AssertionError(f"no new e-mail to {to} arrived")


def mails_to(mailbox: Mailbox, to: str) -> int:
    return sum(1 for m in list(mailbox.messages) if m["To"] == to)


def link_in(body: str, server: LiveServer) -> str:
    match = re.search(re.escape(server.url) + r"/account/link\?t=\S+", body)
    assert match, f"no magic link in:\n{body}"
    return match.group(0)


def decode_qr(png: bytes) -> list[str]:
    """Read a screenshot of a QR code the way the till's scanner would."""
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    image.load()
    return [barcode.text for barcode in zxingcpp.read_barcodes(image.convert("L"))]
