"""Domain exceptions. The API maps each to its HTTP status and error code."""

from __future__ import annotations

import math
from datetime import timedelta


class LoyaltyError(Exception):
    """Base of every expected failure; ``status`` and ``code`` reach the client."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(LoyaltyError):
    status = 422
    code = "invalid_input"


class Unauthorized(LoyaltyError):
    status = 401
    code = "unauthorized"


class Forbidden(LoyaltyError):
    status = 403
    code = "forbidden"


class NotFound(LoyaltyError):
    status = 404
    code = "not_found"


class Conflict(LoyaltyError):
    status = 409
    code = "conflict"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


class AlreadyUsed(Conflict):
    code = "already_used"


class TooManyAttempts(LoyaltyError):
    """``retry_after``: how long to wait, when known (the API's Retry-After header)."""

    status = 429
    code = "too_many_attempts"

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    @property
    def retry_after_seconds(self) -> int | None:
        if self.retry_after is None:
            return None
        return max(1, math.ceil(self.retry_after.total_seconds()))


class Gone(LoyaltyError):
    status = 410
    code = "expired"


class UnbalancedTransaction(Exception):
    """A programming error: postings that do not sum to zero. Never a client error."""
