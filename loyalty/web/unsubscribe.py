"""The signed token of a digest's one-click unsubscribe link: it names the wallet and
nothing else, and only this server can make one."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from loyalty.web import public_url

SALT = "digest-unsubscribe"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def link(wallet_id: int) -> str:
    return public_url(f"/unsubscribe/{_serializer().dumps(wallet_id)}")


def wallet_of(token: str) -> int | None:
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
