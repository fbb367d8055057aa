"""The wallets live in a long-lived, signed, HttpOnly cookie on the shopper's phone.

One phone keeps one wallet per scheme (a shopper who saves in two towns, or
in the towns of a region, has two or more), and remembers which one the
wallet page shows. The cookie holds ``{"w": {"<scheme id>": token}, "c":
<scheme id shown>}``; a cookie of the days of one wallet (a bare token) still
reads.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from loyalty.errors import Unauthorized
from loyalty.models import Wallet
from loyalty.shoppers import wallets
from loyalty.web import db

COOKIE = "ls_wallet"
MAX_AGE = 2 * 365 * 24 * 3600  # two years; renewed on every visit that writes it
# A browser keeps about 4 KB per cookie; a wallet takes about 60 bytes of it.
MAX_WALLETS = 40


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="wallet-cookie")


def _state() -> dict[str, Any]:
    """What this request's cookie says (with this response's changes so far)."""
    if "wallet_cookie" in g:
        state: dict[str, Any] = g.wallet_cookie
        return state
    state = {"w": {}, "c": None}
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer().loads(raw)
        except BadSignature:
            data = None
        if isinstance(data, str):  # one wallet, scheme unknown until looked up
            state["legacy"] = data
        elif isinstance(data, dict) and isinstance(data.get("w"), dict):
            state["w"] = {str(k): str(v) for k, v in data["w"].items()}
            state["c"] = str(data["c"]) if data.get("c") is not None else None
    g.wallet_cookie = state
    return state


def _tokens() -> dict[str, str]:
    """Scheme id (as text) -> token, the old one-wallet cookie resolved."""
    state = _state()
    legacy = state.pop("legacy", None)
    if legacy is not None:
        try:
            wallet = wallets.wallet_by_token(db(), legacy)
        except Unauthorized:
            pass
        else:
            state["w"][str(wallet.scheme_id)] = legacy
            state["c"] = str(wallet.scheme_id)
    tokens: dict[str, str] = state["w"]
    return tokens


def _open(token: str) -> Wallet | None:
    try:
        return wallets.wallet_by_token(db(), token)
    except Unauthorized:
        return None


def wallet_for_scheme(scheme_id: int) -> Wallet | None:
    """This phone's wallet of that scheme, or None."""
    token = _tokens().get(str(scheme_id))
    return _open(token) if token else None


def current_wallet() -> Wallet | None:
    """The wallet the phone shows now, or None (no cookie, bad signature, deleted wallet)."""
    tokens = _tokens()
    chosen = _state()["c"]
    if chosen in tokens:
        wallet = _open(tokens[chosen])
        if wallet is not None:
            return wallet
    for token in tokens.values():
        wallet = _open(token)
        if wallet is not None:
            return wallet
    return None


def phone_wallets() -> list[Wallet]:
    """Every wallet this phone keeps that still opens, in the order they were made."""
    found = [_open(token) for token in _tokens().values()]
    return sorted((w for w in found if w is not None), key=lambda w: w.id)


def _write(response: Response) -> None:
    state = _state()
    if not state["w"]:
        response.delete_cookie(COOKIE, httponly=True, samesite="Lax")
        return
    response.set_cookie(
        COOKIE,
        _serializer().dumps({"w": state["w"], "c": state["c"]}),
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )


def remember(response: Response, scheme_id: int, token: str, *, show: bool = True) -> None:
    """Keep this wallet (replacing the phone's earlier one of that scheme); show it if asked."""
    tokens = _tokens()
    tokens.pop(str(scheme_id), None)
    tokens[str(scheme_id)] = token
    while len(tokens) > MAX_WALLETS:  # the oldest-added wallet gives way
        tokens.pop(next(iter(tokens)))
    if show or _state()["c"] is None:
        _state()["c"] = str(scheme_id)
    _write(response)


def choose(response: Response, scheme_id: int) -> bool:
    """Show the wallet of this scheme from now on; False if the phone has none."""
    if str(scheme_id) not in _tokens():
        return False
    _state()["c"] = str(scheme_id)
    _write(response)
    return True


def forget(response: Response, scheme_id: int) -> None:
    """Drop the phone's wallet of this scheme (deleted); the others stay."""
    _tokens().pop(str(scheme_id), None)
    if _state()["c"] == str(scheme_id):
        _state()["c"] = next(iter(_tokens()), None)
    _write(response)
