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
from sqlalchemy.orm import Session

from consumer_web import cookie
from loyalty.models import Scheme, Wallet
from loyalty.shoppers import wallets
from loyalty.shoppers.wallets import NewWallet
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


def town_wallet(session: Session, scheme_id: int) -> tuple[Wallet, NewWallet | None]:
    """The phone's wallet of this town, or a new one (returned second, for its
    recovery code and the cookie) linked to the phone's others, so that one
    recovery opens them all: a first sale or grant in another town."""
    wallet = cookie.wallet_for_scheme(scheme_id)
    if wallet is not None:
        return wallet, None
    other = cookie.current_wallet()
    made = wallets.create_wallet(session, session.get_one(Scheme, scheme_id))
    if other is not None:
        wallets.link_wallets(session, made.wallet, other)
    return made.wallet, made
