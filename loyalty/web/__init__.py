"""One database transaction per request: commit when the view succeeds, else roll back."""

from __future__ import annotations

import types
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, g, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.orm import Session, sessionmaker

from loyalty.infra.db import sqlite_begin_mode

F = TypeVar("F", bound=Callable[..., Any])


class App(Flask):
    """Flask, with the check whether a view or hook is a coroutine made once per
    function instead of on every call (about a dozen per request)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if type(func) is not types.FunctionType:  # e.g. a bound method: new on each call
            return super().ensure_sync(func)
        found = self._sync.get(func)
        if found is None:
            found = self._sync[func] = super().ensure_sync(func)
        return found


# On every answer (lokaal_sparen.app.create_app): no inline script and nothing from
# another host.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITING_BLUEPRINTS = frozenset({"signin", "portal", "dashboard"})


def public_url(path: str = "") -> str:
    """The absolute URL of ``path`` (``/c/abc``) on this site: PUBLIC_URL, never the
    request's Host header, which the client chooses (a forged one would end up in
    mailed reset links and QR codes). Raises RuntimeError without PUBLIC_URL."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        raise RuntimeError("PUBLIC_URL is not set")
    return f"{base}{path}"


def local_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``: for every redirect
    to a place the request names (``?next=``), so it cannot send anyone elsewhere."""
    # Browsers drop tabs and line breaks anywhere in a URL and blanks around it,
    # so "/\t/evil.example" is "//evil.example" to them: judge what they see, and
    # refuse any value that needed such cleaning (a line break would also break
    # the Location header).
    seen = "".join(ch for ch in target or "" if unicodedata.category(ch) != "Cc").strip()
    # "\\" counts as "/" in browsers; "//host" is another host.
    if seen != target or not seen.startswith("/") or seen.startswith("//") or "\\" in seen:
        return default
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return default
    return seen


def writes(view: F) -> F:
    """Mark a GET view that writes (e.g. releases expired holds) as a write transaction."""
    view.writes_on_read = True  # type: ignore[attr-defined]
    return view


def db() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        factory: sessionmaker[Session] = current_app.extensions["loyalty.sessions"]
        g.db_session = factory()
    session: Session = g.db_session
    return session


@contextmanager
def reading_first() -> Iterator[Session]:
    """The request's session for lookups that come before its writes (who is
    calling?), on SQLite in a read transaction of their own.

    A write request on SQLite begins with BEGIN IMMEDIATE and so holds the one
    write lock of the database from its first statement to its commit. Reading
    the caller's token in a deferred transaction and committing it before the
    writes begin keeps the lock for the writes only, so the other workers can
    write meanwhile. The reads may then be a moment older than the writes, as on
    PostgreSQL (READ COMMITTED), where each statement sees what was committed
    when it began; every guard lives in the writes themselves.
    """
    session = db()
    if (
        session.in_transaction()
        or sqlite_begin_mode.get() != "IMMEDIATE"
        or session.get_bind().dialect.name != "sqlite"
    ):
        yield session
        return
    token = sqlite_begin_mode.set("DEFERRED")
    try:
        yield session
    finally:
        sqlite_begin_mode.reset(token)
    session.commit()  # only after the block succeeded; else the request rolls back


@contextmanager
def independent_transaction() -> Iterator[Session]:
    """A second, short transaction that commits whatever the request does.

    For records that must outlive a failing request, such as a failed login.
    On SQLite the caller must end its own write transaction first (it holds
    the database's write lock).
    """
    factory: sessionmaker[Session] = current_app.extensions["loyalty.sessions"]
    token = sqlite_begin_mode.set("IMMEDIATE")
    try:
        with factory() as session, session.begin():
            yield session
    finally:
        sqlite_begin_mode.reset(token)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the signer for a request without a
    session cookie (every API call): Flask builds it only to find nothing to read."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask, factory: sessionmaker[Session]) -> None:
    app.extensions["loyalty.sessions"] = factory
    app.session_interface = CookieSessions()

    @app.before_request
    def _choose_begin_mode() -> None:
        view = app.view_functions.get(request.endpoint or "")
        # A MethodView's marker sits on its get() method, not on the as_view() function.
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            view = getattr(view_class, request.method.lower(), None) or getattr(
                view_class, "get", None
            )
        # Staff pages touch their session record on every request: a write.
        # They are few, so on SQLite they simply take the write lock.
        read_only = (
            request.method in READ_METHODS
            and not getattr(view, "writes_on_read", False)
            and request.blueprint not in WRITING_BLUEPRINTS
        )
        g.begin_mode_token = sqlite_begin_mode.set("DEFERRED" if read_only else "IMMEDIATE")

    @app.after_request
    def _commit(response: Response) -> Response:
        session: Session | None = g.get("db_session")
        if session is not None:
            if response.status_code < 400:
                session.commit()
            else:
                session.rollback()
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
        token = g.pop("begin_mode_token", None)
        if token is not None:
            sqlite_begin_mode.reset(token)


def personal_page(template: str, status: int = 200, /, **context: Any) -> Response:
    """A rendered page of one person's own data: never kept by a shared cache.
    (Positional: a template may well have a ``status`` of its own.)"""
    response: Response = current_app.make_response(
        (render_template(template, **context), status)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def attachment(body: str | bytes, mimetype: str, filename: str) -> Response:
    """A file download (statements, bank files): private, never cached."""
    response: Response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@contextmanager
def counting_code_misses(merchant_id: int, till_key_id: int | None) -> Iterator[None]:
    """Count a till's look-up of a spend code that does not exist, in a transaction
    of its own: the failing request rolls back, the throttle must still see it."""
    from loyalty.errors import NotFound
    from loyalty.infra.db import utcnow
    from loyalty.spending import redemptions

    try:
        yield
    except NotFound as error:
        if error.code == "unknown_code":
            db().rollback()  # first: on SQLite this transaction may hold the write lock
            with independent_transaction() as side:
                redemptions.record_miss(side, merchant_id, utcnow(), till_key_id=till_key_id)
        raise
