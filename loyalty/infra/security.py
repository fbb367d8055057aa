"""Secrets, hashes and passwords."""

from __future__ import annotations

import functools
import hashlib
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

FAST_HASH_VARIABLE = "LOYALTY_INSECURE_FAST_PASSWORD_HASH"


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2id with the library's RFC 9106 "low memory" defaults.

    The test suite signs in hundreds of times; it sets the variable above to
    use argon2id with the smallest cost (still argon2id, still verified), as
    Warehouse's tests do. Never set it in production.
    """
    if os.environ.get(FAST_HASH_VARIABLE) == "1":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()

# Bearer prefixes tell the three kinds of token apart before any lookup.
STAFF_TOKEN_PREFIX = "lst_"  # noqa: S105  (a prefix, not a secret)
# A signed-in browser's session secret (only ever inside its cookies): the API
# knows no such prefix, so a stolen cookie is no bearer token.
STAFF_WEB_SESSION_PREFIX = "lss_"
TILL_KEY_PREFIX = "lsk_"
WALLET_TOKEN_PREFIX = "lsw_"  # noqa: S105  (a prefix, not a secret)


def new_token(prefix: str = "") -> str:
    """A random bearer secret of 256 bits."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex of a high-entropy token, for lookup without storing it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_recovery_code() -> str:
    """A recovery code of 16 characters from an unambiguous alphabet, in groups of 4."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_password_hash() -> str:
    """Verifying against this when the e-mail is unknown keeps the response time of
    "no such user" equal to "wrong password", so logins do not reveal accounts.
    Made on first use, not at import: hashing is deliberately slow."""
    return _hasher().hash("not-a-real-password")
