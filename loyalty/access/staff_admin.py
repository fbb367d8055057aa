"""The municipality's own staff: invited, given a role, deactivated; every step audited."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.access import staff, totp
from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.infra import security
from loyalty.models import Merchant, Role, Scheme, StaffUser
from loyalty.oversight import audit

MUNICIPALITY_ROLES = (Role.MUNICIPALITY_ADMIN, Role.MUNICIPALITY_ANALYST)


def municipality_staff(session: Session, scheme_id: int) -> list[StaffUser]:
    """The scheme's admins and analysts, active ones first, then by e-mail."""
    return list(
        session.scalars(
            sa.select(StaffUser)
            .where(StaffUser.scheme_id == scheme_id, StaffUser.role.in_(MUNICIPALITY_ROLES))
            .order_by(StaffUser.active.desc(), StaffUser.email)
        )
    )


def get_member(session: Session, scheme_id: int, user_id: int) -> StaffUser:
    """A municipality staff member of this scheme. Raises NotFound (also for other schemes')."""
    user = session.get(StaffUser, user_id)
    if user is None or user.scheme_id != scheme_id or user.role not in MUNICIPALITY_ROLES:
        raise NotFound("this municipality has no such staff member", code="unknown_user")
    return user


def _role(role: str) -> Role:
    if role not in MUNICIPALITY_ROLES:
        raise InvalidInput("choose municipality_admin or municipality_analyst", code="invalid_role")
    return Role(role)


def invite(session: Session, scheme: Scheme, actor: StaffUser, email: str, role: str) -> StaffUser:
    """A staff member with an unusable password, to be chosen through an e-mailed link.

    A deactivated member of this municipality is let back in the same way.
    Raises InvalidInput (e-mail, role), Conflict (the address belongs to someone else).
    """
    new_role = _role(role)
    email = staff.normalise_email(email)
    # 256 random bits nobody sees: the only way in is the link to choose a password.
    unusable = security.new_token()
    existing = session.scalar(sa.select(StaffUser).where(StaffUser.email == email))
    if existing is not None:
        if (
            existing.scheme_id == scheme.id
            and existing.role in MUNICIPALITY_ROLES
            and not existing.active
        ):
            existing.password_hash = security.hash_password(unusable)
            existing.active = True
            existing.role = new_role
            session.flush()
            audit.record(session, actor, "staff.reactivate", existing, {"role": new_role.value})
            return existing
        raise Conflict("a user with this e-mail address exists", code="email_taken")
    try:
        # Two admins inviting one address at once: the unique e-mail lets one win,
        # and the savepoint turns the other's failure into a Conflict.
        with session.begin_nested():
            user = staff.create_user(session, scheme, email=email, password=unusable, role=new_role)
    except sa.exc.IntegrityError:
        raise Conflict("a user with this e-mail address exists", code="email_taken") from None
    audit.record(session, actor, "staff.invite", user, {"role": new_role.value})
    return user


def _other_active_admins(session: Session, user: StaffUser) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(StaffUser)
            .where(
                StaffUser.scheme_id == user.scheme_id,
                StaffUser.role == Role.MUNICIPALITY_ADMIN,
                StaffUser.active.is_(True),
                StaffUser.id != user.id,
            )
        )
        or 0
    )


def change_role(session: Session, actor: StaffUser, user: StaffUser, role: str) -> None:
    """Make a member admin or analyst. Raises InvalidInput, Conflict (the last admin)."""
    new_role = _role(role)
    if user.role == new_role:
        return
    if user.role == Role.MUNICIPALITY_ADMIN and _other_active_admins(session, user) == 0:
        raise Conflict("the municipality needs at least one admin", code="last_admin")
    old = user.role
    user.role = new_role
    session.flush()
    audit.record(session, actor, "staff.role", user, {"from": old, "to": new_role.value})


def deactivate(session: Session, actor: StaffUser, user: StaffUser, now: datetime) -> int:
    """Shut a member out and end every session and API token of theirs at once.

    Returns the number of sessions revoked. Raises Conflict for oneself or the last admin.
    """
    if user.id == actor.id:
        raise Conflict("you cannot deactivate yourself", code="self")
    if user.role == Role.MUNICIPALITY_ADMIN and _other_active_admins(session, user) == 0:
        raise Conflict("the municipality needs at least one admin", code="last_admin")
    if not user.active:
        return 0
    user.active = False
    revoked = staff.revoke_sessions(session, user, now)
    session.flush()
    audit.record(session, actor, "staff.deactivate", user, {"sessions_ended": revoked})
    return revoked


def shop_owners(session: Session, scheme_id: int) -> list[tuple[StaffUser, str]]:
    """The owners of the scheme's shops with their shop's name, by shop then e-mail."""
    return [
        (user, name)
        for user, name in session.execute(
            sa.select(StaffUser, Merchant.name)
            .join(Merchant, Merchant.id == StaffUser.merchant_id)
            .where(StaffUser.scheme_id == scheme_id, StaffUser.role == Role.MERCHANT_OWNER)
            .order_by(Merchant.name, StaffUser.email)
        )
    ]


def two_factor_member(session: Session, scheme_id: int, user_id: int) -> StaffUser:
    """Someone whose two-factor sign-in an admin of this scheme may reset: its
    municipality staff and its shop owners. Raises NotFound (also for other schemes')."""
    user = session.get(StaffUser, user_id)
    if (
        user is None
        or user.scheme_id != scheme_id
        or user.role not in (*MUNICIPALITY_ROLES, Role.MERCHANT_OWNER)
    ):
        raise NotFound("this municipality has no such staff member", code="unknown_user")
    return user


def reset_two_factor(session: Session, actor: StaffUser, user: StaffUser, now: datetime) -> None:
    """A lost phone: the user sets up two-factor sign-in again at the next sign-in.

    Raises Conflict for oneself (another admin must do it, after checking who asks).
    """
    if user.id == actor.id:
        raise Conflict("ask another admin to reset your two-factor sign-in", code="self")
    totp.reset(session, actor, user, now)
