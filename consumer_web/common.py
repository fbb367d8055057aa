"""What the shopper's pages share: the blueprint, page rendering, the wallet."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    url_for,
)
from flask_babel import get_locale

from consumer_web import cookie
from loyalty.models import Wallet
from loyalty.web import personal_page

bp = Blueprint(
    "consumer",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/consumer",
)


def page(template: str, status: int = 200, **context: Any) -> Response:
    return personal_page(f"consumer_web/{template}", status, **context)


def problem(title: str, text: str, status: int) -> Response:
    return page("problem.html", status, title=title, text=text)


def wallet_or_home() -> Wallet:
    """The wallet of this phone's cookie, or a redirect to the start page."""
    wallet = cookie.current_wallet()
    if wallet is None:
        abort(redirect(url_for("consumer.home")))
    return wallet


def current_language() -> str:
    return str(get_locale())
