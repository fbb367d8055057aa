"""Fixtures of this folder's tests that live beside other shared test data."""

from tests.wallet_pass_data import pass_keys  # noqa: F401  (the wallet apps' test keys)
