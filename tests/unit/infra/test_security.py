"""Passwords are argon2id; tokens are random and stored hashed."""

from __future__ import annotations

import pytest

from loyalty.infra import security


def test_production_passwords_use_argon2id_with_rfc_9106_costs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(security.FAST_HASH_VARIABLE)
    security._hasher.cache_clear()
    try:
        hashed = security.hash_password("een-lang-wachtwoord")
    finally:
        security._hasher.cache_clear()  # back to the suite's cheap hasher
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert security.verify_password(hashed, "een-lang-wachtwoord")
    assert not security.verify_password(hashed, "een-ander-wachtwoord")
    assert not security.verify_password("not a hash", "een-lang-wachtwoord")


def test_tokens_are_long_random_and_stored_as_sha256() -> None:
    first, second = security.new_token("lsw_"), security.new_token("lsw_")
    assert first != second and first.startswith("lsw_") and len(first) >= 4 + 43
    assert len(security.token_hash(first)) == 64
    assert security.token_hash(first) != first


def test_recovery_codes_are_forgiving_when_typed() -> None:
    code = security.new_recovery_code()
    assert len(code) == 19 and code.count("-") == 3
    assert security.normalise_recovery_code(code.lower().replace("-", " ")) == code.replace(
        "-", ""
    )
