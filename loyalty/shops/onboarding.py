"""Shops join a scheme: an application, then the municipality's decision."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.errors import Conflict, InvalidInput
from loyalty.infra.db import utcnow
from loyalty.models import (
    Claim,
    ClaimStatus,
    Merchant,
    MerchantStatus,
    Role,
    StaffSession,
    StaffUser,
    TillKey,
)
from loyalty.oversight import audit
from loyalty.town import schemes

# Offered in the application form besides the sectors already in the scheme.
COMMON_SECTORS = (
    "47.11",
    "47.22",
    "47.24",
    "47.25",
    "47.41",
    "47.52",
    "47.59",
    "47.61",
    "47.64",
    "47.65",
    "47.71",
    "47.72",
    "47.73",
    "47.75",
    "47.76",
    "47.77",
    "47.78",
    "56.101",
    "56.102",
    "56.301",
    "96.021",
    "96.022",
)


def apply(
    session: Session,
    *,
    scheme_slug: str,
    name: str,
    sector: str,
    postcode: str,
    address: str,
    email: str,
    password: str,
) -> Merchant | None:
    """A pending shop and its owner's login; None, with nothing created, when the
    address already has a login. Raises InvalidInput, NotFound (scheme)."""
    scheme = schemes.get_scheme(session, scheme_slug)
    owner_email = staff.normalise_email(email)
    # A taken address is found only after every other check (create_user looks
    # last), and the savepoint drops the shop made meanwhile: the caller can then
    # answer exactly as for a new address, so the form tells no one who has a login.
    try:
        with session.begin_nested():
            merchant = schemes.create_merchant(
                session,
                scheme,
                name=name,
                sector=sector,
                postcode=postcode,
                email=owner_email,
                address=address or None,
                status=MerchantStatus.PENDING,
            )
            staff.create_user(
                session,
                scheme,
                email=owner_email,
                password=password,
                role=Role.MERCHANT_OWNER,
                merchant=merchant,
            )
    except Conflict as error:
        if error.code != "email_taken":
            raise
        return None
    except sa.exc.IntegrityError:  # the same new address applied twice at once
        return None
    return merchant


def pending(session: Session, scheme_id: int) -> list[Merchant]:
    return list(
        session.scalars(
            sa.select(Merchant)
            .where(Merchant.scheme_id == scheme_id, Merchant.status == MerchantStatus.PENDING)
            .order_by(Merchant.created_at)
        )
    )


DECISIONS = {
    MerchantStatus.APPROVED: "merchant.approve",
    MerchantStatus.REFUSED: "merchant.refuse",
    MerchantStatus.SUSPENDED: "merchant.suspend",
}


def decide(
    session: Session,
    merchant: Merchant,
    status: MerchantStatus,
    actor: StaffUser | None,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """Approve, refuse or suspend a shop, audited. Raises InvalidInput for other statuses.

    A suspension also ends what the shop could still act through: its open
    claims, its till keys and its staff's sessions and API tokens.
    """
    if status not in DECISIONS:
        raise InvalidInput("unknown decision")
    now = now or utcnow()
    old = merchant.status
    merchant.status = status
    session.flush()
    details: dict[str, object] = {"from": old, "to": status.value}
    if reason:
        details["reason"] = reason
    if status == MerchantStatus.SUSPENDED:
        details.update(_shut_out(session, merchant, now))
    audit.record(session, actor, DECISIONS[status], merchant, details, now=now)


def set_town_service(
    session: Session, merchant: Merchant, town_service: bool, actor: StaffUser | None,
    *, now: datetime | None = None,
) -> None:
    """Mark a merchant as a service of the municipality itself (library, swimming
    pool) or as an ordinary shop, audited. A town service accepts points and
    euros like any shop, is listed in the directory as the municipality's, and is
    never paid out: the settlement books what it took as the municipality's own
    from the next settled month on."""
    old = merchant.town_service
    merchant.town_service = town_service
    session.flush()
    audit.record(session, actor, "merchant.town_service", merchant,
                 {"from": old, "to": town_service}, now=now or utcnow())


def _rows(session: Session, stmt: sa.Update) -> int:
    return int(session.execute(stmt.execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]


def _shut_out(session: Session, merchant: Merchant, now: datetime) -> dict[str, int]:
    # Conditional UPDATEs: a collect racing this waits for the claim's row and
    # then finds it cancelled (or it won, before the suspension).
    claims = _rows(session, sa.update(Claim)
                   .where(Claim.merchant_id == merchant.id, Claim.status == ClaimStatus.OPEN)
                   .values(status=ClaimStatus.CANCELLED))
    keys = _rows(session, sa.update(TillKey)
                 .where(TillKey.merchant_id == merchant.id, TillKey.revoked_at.is_(None))
                 .values(revoked_at=now))
    shop_staff = sa.select(StaffUser.id).where(StaffUser.merchant_id == merchant.id)
    sessions = _rows(session, sa.update(StaffSession)
                     .where(StaffSession.user_id.in_(shop_staff),
                            StaffSession.revoked_at.is_(None))
                     .values(revoked_at=now))
    return {"claims_cancelled": claims, "till_keys_revoked": keys, "sessions_ended": sessions}
