"""Staff users, their revocable sessions and API tokens, and till keys."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning.claims import SaleTerms
from loyalty.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    Unauthorized,
)
from loyalty.infra import security
from loyalty.models import (
    LoginFailure,
    Merchant,
    MerchantStatus,
    Role,
    Scheme,
    StaffSession,
    StaffUser,
    TillKey,
    TrustedDevice,
)
from loyalty.town import schemes
from loyalty.town.schemes import effective_earn_rate

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
API_TOKEN_LIFETIME = timedelta(days=30)
# Kinds of staff session record: a bearer token for scripts, a browser's session.
API_KIND = "api"
BROWSER_KINDS = ("web", "device")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise InvalidInput("not a valid e-mail address", code="invalid_email")
    return email


def create_user(
    session: Session,
    scheme: Scheme,
    *,
    email: str,
    password: str,
    role: Role,
    merchant: Merchant | None = None,
) -> StaffUser:
    """A staff user. Raises InvalidInput, Conflict (e-mail taken)."""
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", code="weak_password"
        )
    shop_role = role in (Role.MERCHANT_OWNER, Role.CASHIER)
    if shop_role and merchant is None:
        raise InvalidInput(f"role {role} needs a shop", code="merchant_required")
    if not shop_role and merchant is not None:
        raise InvalidInput(f"role {role} does not belong to a shop")
    if merchant is not None and merchant.scheme_id != scheme.id:
        raise InvalidInput("that shop belongs to another scheme")
    if session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise Conflict("a user with this e-mail address exists", code="email_taken")
    user = StaffUser(
        scheme_id=scheme.id,
        merchant_id=merchant.id if merchant else None,
        email=email,
        password_hash=security.hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> StaffUser:
    """The active user with this e-mail and password. Raises Unauthorized, Forbidden
    (the user's shop is suspended: no new session or token for it)."""
    user = session.scalar(sa.select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        security.verify_password(security.dummy_password_hash(), password)
        raise Unauthorized("wrong e-mail address or password", code="bad_credentials")
    if not security.verify_password(user.password_hash, password) or not user.active:
        raise Unauthorized("wrong e-mail address or password", code="bad_credentials")
    if user.merchant_id is not None and session.scalar(
        sa.select(Merchant.status).where(Merchant.id == user.merchant_id)
    ) == MerchantStatus.SUSPENDED:
        raise Forbidden("this shop is suspended by the municipality", code="merchant_suspended")
    return user


@dataclass(frozen=True)
class NewSecret:
    id: int
    secret: str


def open_session(
    session: Session, user: StaffUser, now: datetime, *, kind: str = API_KIND,
    lifetime: timedelta = API_TOKEN_LIFETIME,
) -> NewSecret:
    """A server-side session record; its secret is returned once. An API token
    ("api") is a bearer token; a browser's session ("web", "device") has a prefix
    of its own that the API does not take (it lives in cookies only)."""
    prefix = security.STAFF_TOKEN_PREFIX if kind == API_KIND else security.STAFF_WEB_SESSION_PREFIX
    token = security.new_token(prefix)
    record = StaffSession(
        user_id=user.id,
        token_hash=security.token_hash(token),
        kind=kind,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(record)
    session.flush()
    return NewSecret(record.id, token)


def user_by_session_token(
    session: Session,
    token: str,
    now: datetime,
    *,
    kinds: Collection[str],
    idle_timeout: timedelta | None = None,
) -> tuple[StaffUser, StaffSession]:
    """The user behind a live session secret of one of these kinds (the API takes
    only API tokens, the pages only browser sessions). Raises Unauthorized."""
    record = session.scalar(
        sa.select(StaffSession).where(StaffSession.token_hash == security.token_hash(token))
    )
    if (
        record is None
        or record.kind not in kinds
        or record.revoked_at is not None
        or record.expires_at <= now
        or (idle_timeout is not None and record.last_seen_at + idle_timeout <= now)
        or not record.user.active
    ):
        raise Unauthorized("the token is unknown, expired or revoked", code="invalid_token")
    # Suspending a shop ends its staff's sessions; this also covers a session
    # opened afterwards while the shop stays suspended.
    if record.user.merchant_id is not None and session.scalar(
        sa.select(Merchant.status).where(Merchant.id == record.user.merchant_id)
    ) == MerchantStatus.SUSPENDED:
        raise Unauthorized("this shop is suspended", code="merchant_suspended")
    return record.user, record


def session_record(session: Session, record_id: int) -> StaffSession:
    return session.get_one(StaffSession, record_id)


def touch_session(session: Session, record: StaffSession, now: datetime) -> None:
    # Write at most once a minute: a write per request would serialise readers.
    if now - record.last_seen_at > timedelta(minutes=1):
        record.last_seen_at = now


def revoke_sessions(session: Session, user: StaffUser, now: datetime) -> int:
    """Revoke every live session of a user (password change, admin action)."""
    result = session.execute(
        sa.update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def forget_devices(session: Session, user: StaffUser) -> None:
    """Forget every browser on which the user skipped the two-factor code (loyalty.access.totp)."""
    session.execute(
        sa.delete(TrustedDevice)
        .where(TrustedDevice.user_id == user.id)
        .execution_options(synchronize_session=False)
    )


def create_till_key(
    session: Session, merchant: Merchant, now: datetime, *, label: str | None = None
) -> NewSecret:
    """A till key for a shop; the key itself is returned once and stored hashed.

    Raises Forbidden (the shop is not approved).
    """
    schemes.require_approved(merchant)
    key = security.new_token(security.TILL_KEY_PREFIX)
    record = TillKey(
        merchant_id=merchant.id,
        key_hash=security.token_hash(key),
        prefix=key[:10],
        label=label,
        created_at=now,
    )
    session.add(record)
    session.flush()
    return NewSecret(record.id, key)


@dataclass(frozen=True)
class Till:
    """A live till key as its lookup reads it: the key and the terms of its shop's sales."""

    key_id: int
    terms: SaleTerms

    def key_and_shop(self, session: Session) -> tuple[TillKey, Merchant]:
        """The ORM objects, for the pages and API calls beyond making a sale."""
        return (session.get_one(TillKey, self.key_id),
                session.get_one(Merchant, self.terms.merchant_id))


# Every sale starts here: the key and its shop's terms in one query, no ORM objects.
_TILL = (
    sa.select(TillKey.id, Merchant.id, Merchant.scheme_id, Merchant.status, Merchant.earn_rate,
              Scheme.earn_rate, Scheme.earn_rate_max, Scheme.claim_ttl_seconds)
    .join(Merchant, Merchant.id == TillKey.merchant_id)
    .join(Scheme, Scheme.id == Merchant.scheme_id)
    .where(TillKey.key_hash == sa.bindparam("key_hash"), TillKey.revoked_at.is_(None))
)


def till_by_key(session: Session, key: str) -> Till:
    """The live till key and what its shop's sales earn. Raises Unauthorized."""
    session.flush()  # a key revoked in this transaction and not yet written
    row = session.connection().execute(_TILL, {"key_hash": security.token_hash(key)}).first()
    if row is None:
        raise Unauthorized("unknown or revoked till key", code="invalid_token")
    key_id, merchant_id, scheme_id, status, shop_rate, scheme_rate, scheme_max, ttl = row
    if status == MerchantStatus.SUSPENDED:
        # Suspending revokes the shop's keys; a key of a shop suspended before
        # that existed is refused here, as every sale of a shop not approved is.
        raise Forbidden("this shop is suspended", code="merchant_not_approved")
    rate = effective_earn_rate(scheme_rate, shop_rate, scheme_max)
    return Till(key_id, SaleTerms(merchant_id, scheme_id, status, rate, ttl))


def till_key_of(session: Session, merchant: Merchant, key_id: int) -> TillKey:
    """One of the shop's till keys. Raises NotFound (not this shop's)."""
    record = session.get(TillKey, key_id)
    if record is None or record.merchant_id != merchant.id:
        raise NotFound("no such till key")
    return record


def revoke_till_key(session: Session, merchant: Merchant, key_id: int, now: datetime) -> None:
    record = till_key_of(session, merchant, key_id)
    if record.revoked_at is None:
        record.revoked_at = now


# Wrong passwords (and wrong two-factor codes) slow down the account they were
# typed for, wherever they come from: after FREE_FAILURES_PER_ACCOUNT in the
# window, each further try must wait twice as long as the one before (5 s, 10 s,
# 20 s ... at most MAX_ACCOUNT_DELAY) after the latest failure. A refused try is
# no failure, so a guesser gets one guess per delay, while the account's holder,
# signing in from anywhere else, waits a minute at most: nobody can lock an
# account. Behind that, a hard limit per client address (its real address behind
# the proxies of TRUSTED_PROXIES) stops one machine guessing at many accounts.
FAILURE_WINDOW = timedelta(minutes=15)
FREE_FAILURES_PER_ACCOUNT = 5
FIRST_ACCOUNT_DELAY = timedelta(seconds=5)
MAX_ACCOUNT_DELAY = timedelta(minutes=1)
MAX_FAILURES_PER_IP = 30


def check_throttle(session: Session, email: str, ip: str, now: datetime) -> None:
    """Raises TooManyAttempts (with ``retry_after``) while this account must wait
    after its failures, or when this client address failed too often lately."""
    since = now - FAILURE_WINDOW
    failures, latest = session.execute(
        sa.select(sa.func.count(), sa.func.max(LoginFailure.at))
        .where(LoginFailure.email == email.strip().lower(), LoginFailure.at > since)
    ).one()
    if failures >= FREE_FAILURES_PER_ACCOUNT and latest is not None:
        doublings = min(failures - FREE_FAILURES_PER_ACCOUNT, 16)
        delay = min(FIRST_ACCOUNT_DELAY * 2**doublings, MAX_ACCOUNT_DELAY)
        if latest + delay > now:
            raise TooManyAttempts(
                "too many failed attempts for this account; try again in a minute",
                retry_after=latest + delay - now,
            )
    by_ip, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(LoginFailure.at))
        .where(LoginFailure.ip == ip, LoginFailure.at > since)
    ).one()
    if by_ip >= MAX_FAILURES_PER_IP and oldest is not None:
        raise TooManyAttempts(
            "too many failed attempts from this address; try again in 15 minutes",
            retry_after=oldest + FAILURE_WINDOW - now,
        )


def record_failure(session: Session, email: str, ip: str, now: datetime) -> None:
    session.add(LoginFailure(email=email.strip().lower()[:254], ip=ip[:45], at=now))
    # Old records are of no use to the throttle: keep the table small.
    session.execute(
        sa.delete(LoginFailure)
        .where(LoginFailure.at < now - timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    session.flush()


def change_password(session: Session, user: StaffUser, new_password: str, now: datetime) -> None:
    """Set a new password, sign out every session of the user and forget the browsers
    that skipped the two-factor code. Raises InvalidInput."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", code="weak_password"
        )
    user.password_hash = security.hash_password(new_password)
    revoke_sessions(session, user, now)
    forget_devices(session, user)
    session.flush()


def revoke_session(session: Session, record_id: int, now: datetime) -> None:
    session.execute(
        sa.update(StaffSession)
        .where(StaffSession.id == record_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
