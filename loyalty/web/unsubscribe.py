"""The signed tokens of the one-click unsubscribe links (the weekly digest, the expiry
reminder): each names the wallet and nothing else, and only this server can make one.
A token of one kind does not open the other (a salt each)."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from loyalty.web import public_url

DIGEST = "digest"
REMINDERS = "reminders"
_PATHS = {DIGEST: "/unsubscribe/", REMINDERS: "/unsubscribe/reminders/"}


def _serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"{kind}-unsubscribe")


def link(wallet_id: int, kind: str = DIGEST) -> str:
    return public_url(_PATHS[kind] + str(_serializer(kind).dumps(wallet_id)))


def wallet_of(token: str, kind: str = DIGEST) -> int | None:
    try:
        value = _serializer(kind).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
