"""The public JSON API v1 (see API-CONTRACT.md), documented at /api/v1/openapi.json."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from loyalty.errors import LoyaltyError

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


class LoyaltyApi(Api):
    """flask-smorest's Api with the contract's error envelope on API paths only."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        if not is_api_request():
            return error
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
    from loyalty.api import claims, merchants, redemptions, reports, tokens, wallets

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
    api = LoyaltyApi(app)
    api.blueprints = [
        module.blp for module in (tokens, merchants, wallets, claims, redemptions, reports)
    ]
    for blueprint in api.blueprints:
        api.register_blueprint(blueprint, url_prefix=PREFIX)

    @app.errorhandler(LoyaltyError)
    def _domain_error(error: LoyaltyError) -> Any:
        if is_api_request():
            return error_response(error.status, error.code, error.message)
        return error.message, error.status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return api.handle_http_exception(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api_request():
            return error_response(500, "internal_error", "something went wrong on our side")
        return "Internal Server Error", 500

    return api
