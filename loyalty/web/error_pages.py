"""Error pages of the site (not Werkzeug's plain English ones): in the visitor's
language, in the look of the area they were in, with a way back.

The API answers its own errors in JSON (loyalty.api); every other request that
ends in an HTTP error or an unexpected exception gets one of these.
"""

from __future__ import annotations

import logging

from flask import Response, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Title and explanation per status; other statuses read like the nearest one.
TEXTS = {
    400: (_l("This request was not right"),
          _l("Something in what the page sent was missing or out of date. Go back, "
             "reload the page and try again.")),
    403: (_l("No access to this page"),
          _l("Your account may not open this page. Ask the person who manages your "
             "account if you need it.")),
    404: (_l("Page not found"),
          _l("This page does not exist (any more). Check the address, or start again "
             "from the home page.")),
    405: (_l("This page cannot be used this way"),
          _l("Go back and use the page's buttons and links.")),
    409: (_l("This was already done"),
          _l("Someone or something else got there first. Reload the page to see how "
             "things stand now.")),
    410: (_l("This link has expired"),
          _l("Ask for a new one where you got this one.")),
    413: (_l("This is too large"),
          _l("What the page sent was larger than we accept. Try a smaller file.")),
    429: (_l("Too many tries"),
          _l("Wait a few minutes before you try again.")),
    500: (_l("Something went wrong on our side"),
          _l("Nothing was changed. Try again in a moment; if it keeps happening, tell "
             "the municipality.")),
}
STAFF_AREAS = {"/dashboard": "dashboard.home", "/portal": "portal.index"}
STAFF_PATHS = ("/login", "/logout", "/password/", "/account/two-factor", "/account/password")


def _texts(status: int) -> tuple[str, str]:
    if status in TEXTS:
        return TEXTS[status]
    return TEXTS[500] if status >= 500 else TEXTS[400]


def _area() -> tuple[str, str]:
    """The layout ("staff" or "shopper") and the home page of the area of the request."""
    path = request.path
    for prefix, endpoint in STAFF_AREAS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return "staff", url_for(endpoint)
    if path.startswith(STAFF_PATHS):
        return "staff", url_for("signin.login")
    return "shopper", url_for("consumer.home")


def error_page(status: int) -> Response:
    """The site's page for an HTTP error status, in the visitor's language."""
    title, text = _texts(status)
    try:
        layout, home = _area()
        body = render_template(f"errors/{layout}.html", status=status, title=title,
                               text=text, home=home)
    except Exception:  # noqa: BLE001  (the page must not fail; the cause is logged)
        # E.g. a request refused before routing (a Host not trusted) has no
        # URLs to build: a short text in the visitor's language then.
        log.warning("the error page for %s fell back to text", status, exc_info=True)
        return Response(f"{title}\n\n{text}\n", status, mimetype="text/plain")
    response = Response(body, status, mimetype="text/html")
    # An error page says nothing personal, but its layout may show who is signed in.
    response.headers["Cache-Control"] = "no-store"
    return response


def for_exception(error: HTTPException) -> Response:
    """The error page of an HTTP exception, keeping the headers it carries (e.g. Allow)."""
    response = error_page(error.code or 500)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers.setdefault(name, value)
    return response
