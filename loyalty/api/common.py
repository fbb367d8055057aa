"""Small helpers shared by the API views."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app


def svg_response(svg: str) -> Response:
    response: Response = current_app.response_class(svg, mimetype="image/svg+xml")
    # Tokens are single-use, so the image never changes: cache it privately.
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


AUTH: list[dict[str, Any]] = [{"bearer": []}]
