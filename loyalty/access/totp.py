"""Two-factor sign-in for staff: time-based codes (RFC 6238), recovery codes and
remembered browsers.

A code is checked against the previous, the current and the next 30-second
step (phones' clocks drift); the step of the accepted code is stored with a
conditional UPDATE, so a code, or an older one, is never good twice, even
when two requests bring it at once. Recovery codes are used up the same way.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.errors import Conflict, Unauthorized
from loyalty.infra import security
from loyalty.models import RecoveryCode, Role, StaffUser, TrustedDevice
from loyalty.oversight import audit

ISSUER = "Lokaal Sparen"
STEP_SECONDS = 30
RECOVERY_CODES = 10
DEVICE_LIFETIME = timedelta(days=30)
# Signing in may not reach anything else for these roles until a code is given.
REQUIRED_ROLES = frozenset({Role.MUNICIPALITY_ADMIN, Role.MERCHANT_OWNER})


def is_enrolled(user: StaffUser) -> bool:
    return user.totp_enrolled_at is not None


def must_enrol(user: StaffUser) -> bool:
    """Whether this user's role requires two-factor sign-in and it is not set up yet."""
    return user.role in REQUIRED_ROLES and not is_enrolled(user)


def otpauth_uri(user: StaffUser) -> str:
    """The ``otpauth://`` URI an authenticator app reads (from a QR code)."""
    if user.totp_secret is None:
        raise Conflict("two-factor sign-in is not being set up", code="not_enrolling")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def start_enrolment(session: Session, user: StaffUser) -> str:
    """The secret to show while enrolling: a new one, or the one already shown.

    Raises Conflict when the user is enrolled (an admin resets it first).
    """
    if is_enrolled(user):
        raise Conflict("two-factor sign-in is already set up", code="already_enrolled")
    if user.totp_secret is None:
        user.totp_secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        session.flush()
    return user.totp_secret


def confirm_enrolment(session: Session, user: StaffUser, code: str, now: datetime) -> list[str]:
    """Finish enrolling with a first right code; returns the recovery codes, shown once.

    Raises Conflict (enrolled already, or not started), Unauthorized (wrong code).
    """
    if is_enrolled(user) or user.totp_secret is None:
        raise Conflict("two-factor sign-in is not being set up", code="not_enrolling")
    if not _use_totp(session, user, code, now):
        raise Unauthorized("wrong code", code="bad_otp")
    user.totp_enrolled_at = now
    return _new_recovery_codes(session, user)


@dataclass(frozen=True)
class Enrolment:
    uri: str
    recovery_codes: list[str]


def enrol(
    session: Session, user: StaffUser, now: datetime, *, secret: str | None = None
) -> Enrolment:
    """Enrol at once, without a first code (the command line; the demo, with its
    published ``secret``). Raises Conflict when the user is enrolled already."""
    if secret is not None and not is_enrolled(user):
        user.totp_secret = secret
    start_enrolment(session, user)
    user.totp_enrolled_at = now
    return Enrolment(otpauth_uri(user), _new_recovery_codes(session, user))


def _new_recovery_codes(session: Session, user: StaffUser) -> list[str]:
    session.execute(
        sa.delete(RecoveryCode)
        .where(RecoveryCode.user_id == user.id)
        .execution_options(synchronize_session=False)
    )
    codes = [security.new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(
        RecoveryCode(
            user_id=user.id,
            code_hash=security.token_hash(security.normalise_recovery_code(code)),
        )
        for code in codes
    )
    session.flush()
    return codes


def _use_totp(session: Session, user: StaffUser, code: str, now: datetime) -> bool:
    code = code.strip().replace(" ", "")
    if user.totp_secret is None or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            # Conditional UPDATE: of two requests with this code, one wins.
            result = session.execute(
                sa.update(StaffUser)
                .where(
                    StaffUser.id == user.id,
                    sa.or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            session.expire(user, ["totp_last_step"])
            return int(result.rowcount) == 1  # type: ignore[attr-defined]
    return False


def _use_recovery_code(session: Session, user: StaffUser, code: str, now: datetime) -> bool:
    result = session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash
            == security.token_hash(security.normalise_recovery_code(code)),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def verify(session: Session, user: StaffUser, code: str, now: datetime) -> str:
    """Check the second factor: a 6-digit code, or else a recovery code (used up).

    Returns "totp" or "recovery". Raises Unauthorized (wrong, used or not enrolled).
    """
    if is_enrolled(user):
        if _use_totp(session, user, code, now):
            return "totp"
        if len(security.normalise_recovery_code(code)) == 16 and _use_recovery_code(
            session, user, code, now
        ):
            return "recovery"
    raise Unauthorized("wrong or already used code", code="bad_otp")


def recovery_codes_left(session: Session, user: StaffUser) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def trust_device(session: Session, user: StaffUser, now: datetime) -> str:
    """A new remembered browser; returns the secret for its cookie (stored hashed)."""
    token = security.new_token()
    session.add(
        TrustedDevice(
            user_id=user.id,
            token_hash=security.token_hash(token),
            created_at=now,
            expires_at=now + DEVICE_LIFETIME,
        )
    )
    session.flush()
    return token


def device_trusted(session: Session, user: StaffUser, token: str | None, now: datetime) -> bool:
    """Whether this browser's cookie is one the user chose to remember, not yet expired."""
    if not token:
        return False
    found = session.scalar(
        sa.select(TrustedDevice.id).where(
            TrustedDevice.token_hash == security.token_hash(token),
            TrustedDevice.user_id == user.id,
            TrustedDevice.expires_at > now,
        )
    )
    return found is not None


def reset(session: Session, actor: StaffUser | None, user: StaffUser, now: datetime) -> None:
    """Forget a user's two-factor set-up (a lost phone): secret, recovery codes,
    remembered browsers and sessions; the user enrols again at the next sign-in. Audited."""
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    session.execute(
        sa.delete(RecoveryCode)
        .where(RecoveryCode.user_id == user.id)
        .execution_options(synchronize_session=False)
    )
    staff.forget_devices(session, user)
    ended = staff.revoke_sessions(session, user, now)
    session.flush()
    audit.record(session, actor, "staff.totp_reset", user, {"sessions_ended": ended}, now=now)
