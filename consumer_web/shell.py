"""The app around the pages: the language switch, the web app manifest, the
service worker."""

from __future__ import annotations

import json

from flask import (
    Response,
    abort,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _

from consumer_web.common import bp, current_language
from loyalty.web import local_path
from loyalty.web.i18n import COOKIE as LANG_COOKIE
from loyalty.web.i18n import LANGUAGES


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    if code not in LANGUAGES:
        abort(404)
    # Only local paths: an open redirect would help phishing.
    response = redirect(local_path(request.args.get("next"), "/"))
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response  # type: ignore[return-value]


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    data = {
        "name": "Lokaal Sparen",
        "short_name": _("Savings"),
        "start_url": "/wallet",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5d3b",
        "lang": current_language(),
        "icons": [
            {"src": url_for("consumer.static", filename="icon-192.png"), "sizes": "192x192",
             "type": "image/png"},
            {"src": url_for("consumer.static", filename="icon-512.png"), "sizes": "512x512",
             "type": "image/png"},
            {"src": url_for("consumer.static", filename="icon.svg"), "sizes": "any",
             "type": "image/svg+xml"},
        ],
    }
    return Response(json.dumps(data), mimetype="application/manifest+json")


@bp.get("/sw.js")
def service_worker() -> Response:
    # Served from the root so that its scope is the whole wallet.
    response = send_from_directory(bp.static_folder or "", "sw.js", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    return response
