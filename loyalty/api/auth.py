"""Who is calling: a staff token, a till key or a wallet token (all Bearer)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from loyalty.access import staff
from loyalty.errors import Forbidden, Unauthorized
from loyalty.infra import security
from loyalty.infra.db import utcnow
from loyalty.models import Merchant, Role, StaffUser, TillKey, Wallet
from loyalty.shoppers import wallets
from loyalty.web import db, reading_first


@dataclass
class Principal:
    kind: str  # "staff", "till" or "wallet"
    scheme_id: int
    user: StaffUser | None = None
    merchant: Merchant | None = None  # a staff user's shop
    # A till or a wallet as its token's lookup read it; the ORM objects load on
    # demand, since the busiest calls (a sale, a scan) never need them.
    till: staff.Till | None = None
    holder: wallets.TokenHolder | None = None

    @property
    def scope(self) -> str:
        """The namespace of this caller's idempotency keys."""
        if self.user is not None:
            return f"staff:{self.user.id}"
        if self.till is not None:
            return f"till:{self.till.key_id}"
        assert self.holder is not None
        return f"wallet:{self.holder.id}"


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def current_principal() -> Principal:
    """The authenticated caller. Raises Unauthorized (401)."""
    if "principal" in g:
        principal: Principal = g.principal
        return principal
    token = bearer_token(request.headers.get("Authorization", ""))
    if token is None:
        raise Unauthorized("send Authorization: Bearer <token>", code="missing_token")
    # A till key or a wallet token is one indexed driver statement: cheaper
    # inside the request's own transaction than in a read transaction of its
    # own (on SQLite that means holding the write lock a few microseconds
    # longer instead of a second BEGIN and COMMIT). A staff token's lookup is
    # longer, so it reads first (see reading_first).
    if token.startswith(security.TILL_KEY_PREFIX):
        till = staff.till_by_key(db(), token)
        principal = Principal("till", till.terms.scheme_id, till=till)
    elif token.startswith(security.WALLET_TOKEN_PREFIX):
        holder = wallets.holder_of_token(db(), token)
        principal = Principal("wallet", holder.scheme_id, holder=holder)
    elif token.startswith(security.STAFF_TOKEN_PREFIX):
        with reading_first() as session:
            user, _record = staff.user_by_session_token(
                session, token, utcnow(), kinds=(staff.API_KIND,)
            )
            shop = session.get(Merchant, user.merchant_id) if user.merchant_id else None
        principal = Principal("staff", user.scheme_id, user=user, merchant=shop)
    else:
        raise Unauthorized("unknown token", code="invalid_token")
    g.principal = principal
    return principal


def require_till() -> tuple[TillKey, Merchant]:
    """A till key and its shop. Raises Unauthorized, Forbidden."""
    return require_till_key().key_and_shop(db())


def require_till_key() -> staff.Till:
    """A till key, as its lookup read it. Raises Unauthorized, Forbidden."""
    principal = current_principal()
    if principal.till is None:
        raise Forbidden("this needs a till key", code="wrong_role")
    return principal.till


def require_wallet() -> Wallet:
    """The ORM object of the token's wallet, for calls beyond collecting."""
    return db().get_one(Wallet, require_token_holder().id)


def require_token_holder() -> wallets.TokenHolder:
    """A wallet token's wallet, as its lookup read it. Raises Unauthorized, Forbidden."""
    principal = current_principal()
    if principal.holder is None:
        raise Forbidden("this needs a wallet token", code="wrong_role")
    return principal.holder


def require_staff(*roles: Role) -> StaffUser:
    principal = current_principal()
    if principal.user is None or (roles and principal.user.role not in roles):
        raise Forbidden("your role may not do this", code="wrong_role")
    return principal.user


MUNICIPALITY_STAFF = (Role.MUNICIPALITY_ADMIN, Role.MUNICIPALITY_ANALYST)
