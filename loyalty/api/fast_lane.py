"""The fast lane: the two calls of every sale, answered without Flask's request machinery.

On every sale a till creates a claim (``POST /api/v1/claims``) and a phone
collects it (``POST /api/v1/claims/<token>/claim``): most of the platform's
traffic. This WSGI middleware answers the plain, successful case of these two
calls itself, with the views' own domain functions (``loyalty.claims``),
schemas and answer bodies (``loyalty.api.claims``) and the app's headers, in
one transaction that commits before the answer is sent.

Anything else goes to the Flask app untouched: other paths and methods, an
``Idempotency-Key`` (the full stack stores the answer), a query string, a body
or token that is not plainly valid, and every refusal or error of the domain,
after the lane rolled its transaction back. The app then answers exactly as if
the lane did not exist, so error answers, their envelope and their logging
exist in one place only; the lane never answers an error itself.

What the lane saves per call is Flask's request and app contexts, URL routing,
the before/after request hooks, flask-smorest's and webargs' wrappers, a
Response object, and a new session and pooled connection per call: about a
third of the server's CPU time per sale (README, Benchmarks).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask
from marshmallow import ValidationError
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session
from werkzeug.exceptions import SecurityError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_host

from loyalty import claims, security, staff, wallets
from loyalty.api import PLAIN_BODY_LIMIT, PREFIX, is_plain_body
from loyalty.api.auth import bearer_token
from loyalty.api.claims import collected_answer, create_sale_claim
from loyalty.api.schemas import ClaimCreate, ClaimCreated, ClaimDone
from loyalty.db import sqlite_begin_mode, utcnow
from loyalty.errors import LoyaltyError
from loyalty.web import SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

_CREATE_PATH = PREFIX + "/claims"
_COLLECT_START, _COLLECT_END = PREFIX + "/claims/", "/claim"
# A claim token as loyalty.security.new_token makes them (URL-safe base64);
# anything else, e.g. a percent-encoded or overlong path, takes the full stack.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,100}\Z")

Answer = tuple[int, Any]  # status, data for the response schema


class FastLane:
    """WSGI middleware in front of the Flask app (see the module's docstring)."""

    def __init__(self, app: Flask, full_stack: WSGIApplication) -> None:
        self.config = app.config
        self.full_stack = full_stack
        self.engine: Engine = app.extensions["loyalty.engine"]
        self.idle: list[Session] = []  # list.pop and append are atomic: no lock
        event.listen(self.engine, "engine_disposed", self.close)
        self.json = app.json
        self.create_input = ClaimCreate()
        self.created_output = ClaimCreated()
        self.collected_output = ClaimDone()
        self.headers = [*SECURITY_HEADERS.items()]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = None
        if (
            environ.get("REQUEST_METHOD") == "POST"
            and "HTTP_IDEMPOTENCY_KEY" not in environ
            and not environ.get("QUERY_STRING")
        ):
            path: str = environ.get("PATH_INFO", "")
            if path == _CREATE_PATH:
                answer = self._serve(environ, self._create, None)
            elif path.startswith(_COLLECT_START) and path.endswith(_COLLECT_END):
                claim_token = path[len(_COLLECT_START):-len(_COLLECT_END)]
                if _TOKEN.match(claim_token):
                    answer = self._serve(environ, self._collect, claim_token)
        if answer is None:
            return self.full_stack(environ, start_response)
        status, body = answer
        start_response(
            f"{status} {HTTP_STATUS_CODES[status].upper()}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
             *self.headers],
        )
        return [body]

    def _serve(
        self,
        environ: WSGIEnvironment,
        handler: Callable[[Session, WSGIEnvironment, str, Any], Answer | None],
        argument: Any,
    ) -> tuple[int, bytes] | None:
        """Run ``handler`` in a transaction and commit; None hands the call on."""
        bearer = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if bearer is None:
            return None
        begin_mode = sqlite_begin_mode.set("IMMEDIATE")
        session = self._take_session()
        try:
            try:
                answer = handler(session, environ, bearer, argument)
            except LoyaltyError:
                answer = None  # a refusal: the full stack says it in the API's words
            if answer is None:
                session.rollback()
                self.idle.append(session)
                return None
            status, data = answer
            # The JSON exactly as Flask's jsonify writes it for the views.
            body = (self.json.dumps(data, separators=(",", ":")) + "\n").encode()
            session.commit()
        except Exception:
            # Not expected here. The connection may be broken: drop it. The
            # full stack runs the call again and, if it fails there too, logs
            # it and answers 500 as for any other call.
            log.warning("fast lane handed %s on after an error", environ.get("PATH_INFO"),
                        exc_info=True)
            _close(session)
            return None
        finally:
            sqlite_begin_mode.reset(begin_mode)
        session.expunge_all()
        self.idle.append(session)
        return status, body

    def _take_session(self) -> Session:
        """An idle session of the lane, each on a connection of its own that it keeps.

        A new session and a connection from the pool for each call cost more
        than half of what a sale's statements cost; the lane keeps one session
        per call it serves at once (one per sync worker) and hands them out again.
        """
        try:
            return self.idle.pop()
        except IndexError:
            return Session(bind=self.engine.connect(), expire_on_commit=False)

    def close(self, *_args: Any) -> None:
        """Close the idle sessions and their connections (on the engine's dispose())."""
        while self.idle:
            _close(self.idle.pop())

    def _create(
        self, session: Session, environ: WSGIEnvironment, bearer: str, _arg: None
    ) -> Answer | None:
        if not bearer.startswith(security.TILL_KEY_PREFIX) or not _is_json(environ):
            return None
        body = _read_body(environ)
        # Any other body gets the full stack's checks (refuse_unusable_input).
        if not body or not is_plain_body(body):
            return None
        try:
            data = self.create_input.load(self.json.loads(body))
        except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
            return None
        base = self._base_url(environ)
        if base is None:
            return None
        till = staff.till_by_key(session, bearer)
        return 201, self.created_output.dump(create_sale_claim(session, till, data, base))

    def _collect(
        self, session: Session, environ: WSGIEnvironment, bearer: str, claim_token: str
    ) -> Answer | None:
        if not bearer.startswith(security.WALLET_TOKEN_PREFIX) or _read_body(environ) != b"":
            return None
        holder = wallets.holder_of_token(session, bearer)
        result = claims.claim_points(session, claim_token, holder, utcnow())
        return 200, self.collected_output.dump(collected_answer(result))

    def _base_url(self, environ: WSGIEnvironment) -> str | None:
        """PUBLIC_URL, or the scheme and host the call came in on (as request.host_url)."""
        public_url: str | None = self.config.get("PUBLIC_URL")
        if public_url:
            return public_url
        try:
            host = get_host(environ, self.config.get("TRUSTED_HOSTS"))
        except SecurityError:
            return None  # the full stack refuses the host
        return f"{environ['wsgi.url_scheme']}://{host}"


def _close(session: Session) -> None:
    """Close a kept session and its connection for good.

    The connection is invalidated, not returned: it may be broken (then no
    rollback must be tried on it), and after the engine's dispose() the pool it
    came from is gone, so only closing it here closes it at all.
    """
    connection = session.bind
    assert isinstance(connection, Connection)
    try:
        connection.invalidate()  # closes the driver's connection
        session.close()
        connection.close()
    except Exception:  # a broken connection must not fail the call that found it
        log.warning("fast lane could not close a connection", exc_info=True)


def _is_json(environ: WSGIEnvironment) -> bool:
    mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    return mimetype == "application/json"


def _read_body(environ: WSGIEnvironment) -> bytes | None:
    """A body shorter than PLAIN_BODY_LIMIT, left readable for the full stack;
    None for any other (the full stack reads it)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length <= 0:
        return b""
    if length >= PLAIN_BODY_LIMIT:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body
