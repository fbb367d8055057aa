"""Small helpers shared by the API views."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request


def public_base() -> str:
    """PUBLIC_URL, or the scheme and host the request came in on (no slash at the end)."""
    return current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")


def external_url(path: str) -> str:
    """An absolute URL on PUBLIC_URL, or on the host the request came in on."""
    return f"{public_base()}{path}"


def svg_response(svg: str) -> Response:
    response: Response = current_app.response_class(svg, mimetype="image/svg+xml")
    # Tokens are single-use, so the image never changes: cache it privately.
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


AUTH: list[dict[str, Any]] = [{"bearer": []}]
