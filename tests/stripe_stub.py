"""A local stand-in for Stripe's API: a real HTTP server speaking Stripe's wire format.

Stripe cannot be reached from the tests, so the stripe library is pointed at
this server instead (``STRIPE_API_BASE``, which the app passes to
``StripeClient(base_addresses=...)``). It takes form-encoded requests with
Stripe's nested keys (``metadata[merchant_id]=7``, ``payment_method_types[0]=card``),
answers with the JSON objects Stripe returns (``"object": "checkout.session"``,
ids like ``cs_test_...``), errors as ``{"error": {"type", "message", ...}}`` with a
4xx status, replays a POST repeated with the same ``Idempotency-Key`` as
Stripe does, and records every request it received so tests can assert on
what the app sent (``stub.received(method, path_regex)``).

Extend it with a handler per endpoint::

    @stub.route("POST", r"/v1/transfers")
    def create_transfer(stub, request, match):
        return 200, stub.store({"id": stub.new_id("tr"), "object": "transfer", ...})

A handler returns ``(status, body)``; raise ``StripeError`` for an error reply.

Webhook events are built with ``event()`` the way Stripe builds them and
signed with ``sign()``: Stripe's ``Stripe-Signature`` scheme, HMAC-SHA256 over
``f"{timestamp}.{payload}"``, computed here from the documentation rather than
with the library under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2025-09-30.clover"

Handler = Callable[["StripeStub", "StubRequest", "re.Match[str]"], tuple[int, dict[str, Any]]]


@dataclass
class StubRequest:
    """One request as the stub received it."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: str

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


class StripeError(Exception):
    """An error reply in Stripe's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - Stripe's field name
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": type, "message": message}
        if param:
            self.body["param"] = param
        if code:
            self.body["code"] = code


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to nested dicts and lists.

    ``a[b][0][c]=1`` becomes ``{"a": {"b": [{"c": "1"}]}}``. Values stay
    strings, as Stripe receives them.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


@dataclass
class StripeStub:
    """The server; ``url`` is what STRIPE_API_BASE is set to."""

    url: str = ""
    requests: list[StubRequest] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    # (method, path pattern) -> errors to answer with before the handler runs.
    failures: list[tuple[str, re.Pattern[str], StripeError]] = field(default_factory=list)
    # (api key, Idempotency-Key) -> (params, status, body): Stripe answers a
    # repeated POST with the first answer, and refuses other params under the key.
    idempotent: dict[tuple[str, str], tuple[dict[str, Any], int, dict[str, Any]]] = field(
        default_factory=dict
    )
    # Where the hosted checkout page sends its signed events, as the endpoint
    # registered in Stripe's dashboard; and the answers it got.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    deliveries: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (api key, Idempotency-Key) -> (parameters, answer), as Stripe keeps them;
    # the lock is held while an idempotent request runs, so that concurrent
    # retries with one key see one result (Stripe locks the key likewise).
    idempotent: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict
    )
    idempotency_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- extension points ---------------------------------------------------

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Register a handler for ``method`` and a path regex (anchored at both ends)."""

        def register(handler: Handler) -> Handler:
            self.routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))
            return handler

        return register

    def fail_next(self, method: str, pattern: str, error: StripeError) -> None:
        """Answer the next matching request with ``error`` (once)."""
        self.failures.append((method.upper(), re.compile(f"^{pattern}$"), error))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{secrets.token_hex(12)}"

    def store(self, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str, kind: str) -> dict[str, Any]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(
                404, f"No such {kind.split('.')[-1]}: '{object_id}'", param="id",
                code="resource_missing",
            )
        return obj

    def received(self, method: str, path: str) -> list[StubRequest]:
        """The requests received for ``method`` on ``path`` (a regex), oldest first."""
        pattern = re.compile(f"^{path}$")
        return [r for r in self.requests if r.method == method and pattern.match(r.path)]

    # -- dispatch -------------------------------------------------------------

    def dispatch(self, request: StubRequest) -> tuple[int, dict[str, Any]]:
        """The answer to one request; POSTs with an Idempotency-Key replay as Stripe's do."""
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or not key:
            return self._answer(request)
        with self.lock:
            seen = self.idempotent.get((request.api_key or "", key))
        if seen is not None:
            with self.lock:
                self.requests.append(request)
            params, status, body = seen
            if params != request.params:
                return 400, {"error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with.",
                }}
            return status, body
        status, body = self._answer(request)
        # Stripe keeps the answer unless the request never ran (a 5xx may be retried).
        if status < 500:
            with self.lock:
                self.idempotent[(request.api_key or "", key)] = (request.params, status, body)
        return status, body

    def _answer(self, request: StubRequest) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(request)
            failure = next(
                (f for f in self.failures if f[0] == request.method and f[1].match(request.path)),
                None,
            )
            if failure:
                self.failures.remove(failure)
        try:
            if failure:
                raise failure[2]
            key = request.api_key
            if not key or not key.startswith(("sk_test_", "rk_test_")):
                raise StripeError(
                    401,
                    "Invalid API Key provided: " + (key or "none"),
                    code="api_key_invalid" if key else None,
                )
            for method, pattern, handler in self.routes:
                match = pattern.match(request.path)
                if method == request.method and match:
                    return handler(self, request, match)
            raise StripeError(
                404, f"Unrecognized request URL ({request.method}: {request.path})."
            )
        except StripeError as error:
            return error.status, {"error": error.body}


# -- Checkout Sessions ------------------------------------------------------------


def create_checkout_session(
    stub: StripeStub, request: StubRequest, match: re.Match[str]
) -> tuple[int, dict[str, Any]]:
    p = request.params
    if p.get("mode") not in ("payment", "setup", "subscription"):
        raise StripeError(400, "Missing required param: mode.", param="mode")
    if "success_url" not in p and p.get("ui_mode", "hosted") == "hosted":
        raise StripeError(400, "Missing required param: success_url.", param="success_url")
    items = p.get("line_items") or []
    if p["mode"] == "payment" and not items:
        raise StripeError(400, "Missing required param: line_items.", param="line_items")
    currencies = set()
    total = 0
    for i, item in enumerate(items):
        data = item.get("price_data")
        if not data:
            raise StripeError(400, "You must specify price or price_data.",
                              param=f"line_items[{i}]")
        currencies.add(data["currency"])
        amount = int(data["unit_amount"])
        if amount < 0:
            raise StripeError(400, "Invalid non-negative integer",
                              param=f"line_items[{i}][price_data][unit_amount]")
        total += amount * int(item.get("quantity", "1"))
    currency = currencies.pop() if currencies else None
    # Stripe's minimum charge for EUR is 0.50.
    if currency == "eur" and total < 50:
        raise StripeError(
            400, "The Checkout Session's total amount due must add up to at least €0.50 eur",
            code="amount_too_small",
        )
    session = checkout_session(
        total,
        currency=currency,
        metadata=p.get("metadata", {}),
        payment_status="unpaid",
        status="open",
        mode=p["mode"],
        cancel_url=p.get("cancel_url"),
        success_url=p.get("success_url"),
        client_reference_id=p.get("client_reference_id"),
        customer_email=p.get("customer_email"),
        locale=p.get("locale"),
        payment_method_types=p.get("payment_method_types", ["card"]),
    )
    # Stripe's hosted page; here on the stub's own host so no test ever
    # leaves the machine.
    session["url"] = f"{stub.url}/c/pay/{session['id']}"
    return 200, stub.store(session)


def checkout_session(
    amount_total: int,
    *,
    metadata: dict[str, str],
    payment_status: str = "paid",
    currency: str | None = "eur",
    **fields: Any,
) -> dict[str, Any]:
    """A Checkout Session object as Stripe returns it and puts in its events."""
    now = int(time.time())
    paid = payment_status != "unpaid"
    session: dict[str, Any] = {
        "id": f"cs_test_{secrets.token_hex(24)}",
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": None,
        "client_reference_id": None,
        "created": now,
        "currency": currency,
        "customer": None,
        "customer_email": None,
        "expires_at": now + 24 * 3600,
        "livemode": False,
        "locale": None,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": f"pi_test_{secrets.token_hex(12)}" if paid else None,
        "payment_method_types": ["card", "bancontact"],
        "payment_status": payment_status,
        "status": "complete" if paid else "open",
        "success_url": None,
        "url": None,
    }
    session.update(fields)
    return session


def retrieve_checkout_session(
    stub: StripeStub, request: StubRequest, match: re.Match[str]
) -> tuple[int, dict[str, Any]]:
    return 200, stub.get(match["id"], "checkout.session")


def complete_checkout_session(
    stub: StripeStub, session_id: str, *, paid: bool = True
) -> dict[str, Any]:
    """What Stripe does when the shopper finishes the hosted page; returns the session."""
    session = stub.get(session_id, "checkout.session")
    session.update(
        status="complete",
        payment_status="paid" if paid else "unpaid",
        payment_intent=stub.new_id("pi"),
        url=None,
    )
    return dict(session)


# -- Connect transfers ---------------------------------------------------------------------


def create_transfer(
    stub: StripeStub, request: StubRequest, match: re.Match[str]
) -> tuple[int, dict[str, Any]]:
    """POST /v1/transfers, with Stripe's idempotency: a repeated Idempotency-Key
    answers the first transfer again, and with other parameters it is an error."""
    p = request.params
    key = request.headers.get("idempotency-key")
    if not key:
        return 200, _new_transfer(stub, p)
    with stub.idempotency_lock:
        seen = stub.idempotent.get((request.api_key or "", key))
        if seen is not None:
            params, answer = seen
            if params != p:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            return 200, answer
        transfer = _new_transfer(stub, p)
        stub.idempotent[(request.api_key or "", key)] = (p, transfer)
        return 200, transfer


def _new_transfer(stub: StripeStub, p: dict[str, Any]) -> dict[str, Any]:
    for name in ("amount", "currency", "destination"):
        if not p.get(name):
            raise StripeError(400, f"Missing required param: {name}.", param=name)
    if not re.fullmatch(r"\d+", p["amount"]) or int(p["amount"]) < 1:
        raise StripeError(400, "Invalid positive integer", param="amount")
    if not p["destination"].startswith("acct_"):
        raise StripeError(
            400, f"No such destination: '{p['destination']}'", param="destination",
            code="resource_missing",
        )
    transfer = transfer_object(
        int(p["amount"]),
        p["destination"],
        currency=p["currency"],
        description=p.get("description"),
        metadata=p.get("metadata", {}),
        transfer_group=p.get("transfer_group"),
    )
    transfer["id"] = stub.new_id("tr")
    transfer["reversals"]["url"] = f"/v1/transfers/{transfer['id']}/reversals"
    return stub.store(transfer)


def transfer_object(
    amount: int, destination: str, *, currency: str = "eur", **fields: Any
) -> dict[str, Any]:
    """A Transfer object as Stripe returns it."""
    transfer: dict[str, Any] = {
        "id": f"tr_test_{secrets.token_hex(12)}",
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": f"txn_test_{secrets.token_hex(12)}",
        "created": int(time.time()),
        "currency": currency,
        "description": None,
        "destination": destination,
        "destination_payment": f"py_test_{secrets.token_hex(12)}",
        "livemode": False,
        "metadata": {},
        "reversals": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                      "url": ""},
        "reversed": False,
        "source_transaction": None,
        "source_type": "card",
        "transfer_group": None,
    }
    transfer.update(fields)
    return transfer


def retrieve_transfer(
    stub: StripeStub, request: StubRequest, match: re.Match[str]
) -> tuple[int, dict[str, Any]]:
    return 200, stub.get(match["id"], "transfer")


# -- events and signatures -------------------------------------------------------------


def event(event_type: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A webhook event as Stripe sends it."""
    return {
        "id": f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        **extra,
    }


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``: t=<unix time>,v1=<hex HMAC-SHA256>."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def signed_delivery(evt: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one webhook delivery of ``evt``."""
    payload = json.dumps(evt, indent=2)
    return payload.encode(), {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(payload, secret),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }


# -- Stripe's hosted checkout page ---------------------------------------------------

HOSTED_PAGE = re.compile(r"/c/pay/(?P<id>cs_test_\w+)")


def checkout_page(
    stub: StripeStub, request: StubRequest, session_id: str
) -> tuple[int, str, str | None]:
    """The page a Checkout Session's url opens: (status, html, redirect location).

    GET shows the amount with a Pay and a Cancel button. Pay does what Stripe
    does: completes the session, sends the signed ``checkout.session.completed``
    event to ``stub.webhook_url``, and sends the browser to the success_url
    with the session id filled in. Cancel sends it to the cancel_url.
    """
    session = stub.objects.get(session_id)
    if session is None or session["object"] != "checkout.session":
        return 404, "<!doctype html><title>Not found</title><p>No such session.</p>", None
    if request.method == "POST":
        if request.params.get("outcome") != "pay":
            return 303, "", session["cancel_url"]
        paid = complete_checkout_session(stub, session_id)
        if stub.webhook_url and stub.webhook_secret:
            import requests

            body, headers = signed_delivery(
                event("checkout.session.completed", paid), stub.webhook_secret
            )
            answer = requests.post(stub.webhook_url, data=body, headers=headers, timeout=30)
            stub.deliveries.append((paid["id"], answer.status_code))
        return 303, "", session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
    amount = f"{session['amount_total'] / 100:.2f} {str(session['currency']).upper()}"
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        "<title>Stripe test checkout</title></head><body><main>"
        f"<h1>Stripe test checkout</h1><p>Amount: <span id=amount>{amount}</span></p>"
        '<form method="post"><button name="outcome" value="pay">Pay</button> '
        '<button name="outcome" value="cancel">Cancel</button></form></main></body></html>'
    )
    return 200, html, None


# -- the server --------------------------------------------------------------------


def _request_handler(stub: StripeStub) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            if body:
                pairs += parse_qsl(body, keep_blank_values=True)
            request = StubRequest(
                method=self.command,
                path=parts.path,
                params=decode_form(pairs),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            page = HOSTED_PAGE.fullmatch(parts.path)
            if page:
                self._page(*checkout_page(stub, request, page["id"]))
                return
            status, payload = stub.dispatch(request)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
            self.end_headers()
            self.wfile.write(data)

        def _page(self, status: int, html: str, location: str | None) -> None:
            data = html.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header(
                "Content-Security-Policy", "default-src 'self'; img-src data:; script-src 'self'"
            )
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet test output

    return RequestHandler


class RunningStub:
    """A started stub with its server thread; use as a context manager."""

    def __init__(self) -> None:
        self.stub = StripeStub()
        self.stub.route("POST", r"/v1/checkout/sessions")(create_checkout_session)
        self.stub.route("GET", r"/v1/checkout/sessions/(?P<id>[\w]+)")(retrieve_checkout_session)
        self.stub.route("POST", r"/v1/transfers")(create_transfer)
        self.stub.route("GET", r"/v1/transfers/(?P<id>[\w]+)")(retrieve_transfer)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(self.stub))
        self.stub.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StripeStub:
        self.thread.start()
        return self.stub

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
