"""Who is calling: a staff token, a till key or a wallet token (all Bearer)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from loyalty import security, staff, wallets
from loyalty.db import utcnow
from loyalty.errors import Forbidden, Unauthorized
from loyalty.models import Merchant, Role, StaffUser, TillKey, Wallet
from loyalty.web import reading_first


@dataclass
class Principal:
    kind: str  # "staff", "till" or "wallet"
    scheme_id: int
    user: StaffUser | None = None
    till_key: TillKey | None = None
    merchant: Merchant | None = None
    wallet: Wallet | None = None

    @property
    def scope(self) -> str:
        """The namespace of this caller's idempotency keys."""
        if self.user is not None:
            return f"staff:{self.user.id}"
        if self.till_key is not None:
            return f"till:{self.till_key.id}"
        assert self.wallet is not None
        return f"wallet:{self.wallet.id}"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_principal() -> Principal:
    """The authenticated caller. Raises Unauthorized (401)."""
    if "principal" in g:
        principal: Principal = g.principal
        return principal
    token = _bearer()
    if token is None:
        raise Unauthorized("send Authorization: Bearer <token>", code="missing_token")
    with reading_first() as session:
        if token.startswith(security.TILL_KEY_PREFIX):
            key, merchant = staff.till_key_by_token(session, token)
            principal = Principal("till", merchant.scheme_id, till_key=key, merchant=merchant)
        elif token.startswith(security.WALLET_TOKEN_PREFIX):
            wallet = wallets.wallet_by_token(session, token)
            principal = Principal("wallet", wallet.scheme_id, wallet=wallet)
        elif token.startswith(security.STAFF_TOKEN_PREFIX):
            user, _record = staff.user_by_session_token(session, token, utcnow())
            shop = session.get(Merchant, user.merchant_id) if user.merchant_id else None
            principal = Principal("staff", user.scheme_id, user=user, merchant=shop)
        else:
            raise Unauthorized("unknown token", code="invalid_token")
    g.principal = principal
    return principal


def require_till() -> tuple[TillKey, Merchant]:
    """A till key. Raises Unauthorized, Forbidden."""
    principal = current_principal()
    if principal.till_key is None or principal.merchant is None:
        raise Forbidden("this needs a till key", code="wrong_role")
    return principal.till_key, principal.merchant


def require_wallet() -> Wallet:
    principal = current_principal()
    if principal.wallet is None:
        raise Forbidden("this needs a wallet token", code="wrong_role")
    return principal.wallet


def require_staff(*roles: Role) -> StaffUser:
    principal = current_principal()
    if principal.user is None or (roles and principal.user.role not in roles):
        raise Forbidden("your role may not do this", code="wrong_role")
    return principal.user


MUNICIPALITY_STAFF = (Role.MUNICIPALITY_ADMIN, Role.MUNICIPALITY_ANALYST)
