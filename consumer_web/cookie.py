"""The wallet lives in a long-lived, signed, HttpOnly cookie on the shopper's phone."""

from __future__ import annotations

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from loyalty.errors import Unauthorized
from loyalty.models import Wallet
from loyalty.shoppers import wallets
from loyalty.web import db

COOKIE = "ls_wallet"
MAX_AGE = 2 * 365 * 24 * 3600  # two years; renewed on every visit that writes it


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="wallet-cookie")


def current_wallet() -> Wallet | None:
    """The wallet of this phone, or None (no cookie, bad signature, deleted wallet)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        token = _serializer().loads(raw)
    except BadSignature:
        return None
    try:
        return wallets.wallet_by_token(db(), str(token))
    except Unauthorized:
        return None


def remember(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        _serializer().dumps(token),
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="Lax")
