"""The public JSON API v1 (see API-CONTRACT.md), documented at /api/v1/openapi.json."""

from __future__ import annotations

import json
import logging
from typing import Any

from apispec import BasePlugin
from flask import Flask, jsonify, request
from flask_smorest import Api
from webargs.core import parse_json
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from loyalty.api.schemas import ErrorSchema
from loyalty.errors import LoyaltyError, TooManyAttempts
from loyalty.web import error_pages

PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def error_response(status: int, code: str, message: str, fields: Any = None) -> Any:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _flatten(messages: Any) -> str:
    """webargs nests messages by location ("json", "query"); say them in one line."""
    parts: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list):
            parts.append(f"{prefix}: {' '.join(str(v) for v in value)}")
        else:
            parts.append(f"{prefix}: {value}")

    walk("", messages)
    return "; ".join(parts)


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in URLs, at most the largest 32-bit id: a huge number in a path is
    a 404, not an overflow in the database (PostgreSQL INTEGER; SQLite stops at 2**63)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _unstorable(text: str) -> bool:
    """NUL (PostgreSQL refuses it) or a lone surrogate (not encodable as UTF-8)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# A body this short, plain ASCII and without a backslash holds nothing that
# refuse_unusable_input looks for: no escape can spell NUL or a surrogate, no
# number is long enough, no nesting deep enough. Most calls (every sale at a
# till) are such bodies, so they skip the parse.
PLAIN_BODY_LIMIT = 512


def is_plain_body(body: bytes) -> bool:
    return len(body) < PLAIN_BODY_LIMIT and body.isascii() and b"\\" not in body


def refuse_unusable_input() -> Any:
    """Bad input that would otherwise end as a 500 further down, refused up front:
    JSON that the standard parser only fails on with ValueError or RecursionError
    (a number of thousands of digits, very deep nesting), and text no database can
    store or compare, anywhere in the body, the query or the path."""
    if not is_api_request():
        return None
    texts: list[Any] = [text for pair in request.args.items(multi=True) for text in pair]
    texts += (request.view_args or {}).values()
    body = request.get_data(cache=True) if request.is_json else b""
    if body and not is_plain_body(body):
        try:
            texts.append(parse_json(body))
        except json.JSONDecodeError:
            pass  # not JSON at all: webargs answers that (400 malformed_json)
        except (ValueError, RecursionError):
            return error_response(400, "malformed_json", "the body is not valid JSON")
    while texts:  # iterative: the body may be nested as deep as the parser allows
        value = texts.pop()
        if isinstance(value, dict):
            texts += value.keys()
            texts += value.values()
        elif isinstance(value, list):
            texts += value
        elif isinstance(value, str) and _unstorable(value):
            return error_response(
                422, "invalid_characters", "text must not contain NUL or lone surrogates"
            )
    return None


class ErrorBodies(BasePlugin):
    """Document the error envelope also on the error answers declared with a description
    only (``alt_response(409, description=...)``): they carry a body like any other."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for op in (operations or {}).values():
            responses = op.get("responses", {}) if isinstance(op, dict) else {}
            for status, response in responses.items():
                if (str(status)[:1] in ("4", "5") and isinstance(response, dict)
                        and "content" not in response):
                    response["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    }


class LoyaltyApi(Api):
    """flask-smorest's Api with the contract's error envelope on API paths only."""

    # Document errors as they are sent: {"error": {"code", "message"}}.
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        if not is_api_request():
            return error_pages.for_exception(error)
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        if messages:
            # webargs says a body that is not JSON at all as a list at location level.
            if isinstance(messages.get("json"), list):
                return error_response(400, "malformed_json", "the body is not valid JSON")
            # Strip webargs' location level ("json", "query") from the field paths.
            fields = {}
            for by_location in messages.values():
                fields.update(by_location if isinstance(by_location, dict) else {})
            return error_response(422, "invalid_input", _flatten(fields) or "invalid input",
                                  fields or None)
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 400, code, error.description or error.name)


def init_app(app: Flask) -> LoyaltyApi:
    from loyalty.api import (
        campaigns,
        claims,
        grants,
        merchants,
        redemptions,
        reference,
        reports,
        settlements,
        tokens,
        vouchers,
        wallets,
    )

    app.config.update(
        API_TITLE="Lokaal Sparen API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Earn and spend local loyalty points (API-CONTRACT.md)."},
            "components": {
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "staff token (lst_), till key (lsk_) or wallet token (lsw_)",
                    }
                }
            },
        },
    )
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(refuse_unusable_input)
    api = LoyaltyApi(app, spec_kwargs={"extra_plugins": [ErrorBodies()]})
    api.blueprints = [
        module.blp
        for module in (
            tokens, merchants, wallets, claims, redemptions, reports, settlements, campaigns,
            grants, vouchers,
        )
    ]
    for blueprint in api.blueprints:
        api.register_blueprint(blueprint, url_prefix=PREFIX)
    # The same description as a page for people (loyalty.api.reference).
    app.extensions["loyalty.api"] = api
    app.register_blueprint(reference.bp, url_prefix=PREFIX)

    @app.errorhandler(LoyaltyError)
    def _domain_error(error: LoyaltyError) -> Any:
        if is_api_request():
            response = error_response(error.status, error.code, error.message)
            if isinstance(error, TooManyAttempts) and error.retry_after_seconds:
                response.headers["Retry-After"] = str(error.retry_after_seconds)
            return response
        # A domain refusal a page did not turn into a form error of its own.
        return error_pages.error_page(error.status)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return api.handle_http_exception(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api_request():
            return error_response(500, "internal_error", "something went wrong on our side")
        return error_pages.error_page(500)

    return api
