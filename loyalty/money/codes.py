"""One-time codes handed out on paper (a grant's codes, the social service's
entitlement codes): 16 characters of an unambiguous alphabet in groups of four,
stored only as a hash of their letters and digits, so a typed code matches
with or without dashes and in any case."""

from __future__ import annotations

from loyalty.infra import security

MAX_CODES = 1000  # one print run


def new_code() -> str:
    return security.new_recovery_code()


def code_hash(code: str) -> str:
    return security.token_hash(security.normalise_recovery_code(code))
