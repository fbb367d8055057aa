"""A shop owner's own business: the shop's stamp cards, cashiers, till keys and profile."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.access import staff
from loyalty.errors import Conflict, Forbidden, InvalidInput, NotFound
from loyalty.infra import security
from loyalty.models import Merchant, Role, Scheme, StaffUser, StampCard, TillKey
from loyalty.town import schemes, sectors

MAX_ADDRESS = 300
MAX_OPENING_HOURS = 300


# -- stamp cards -------------------------------------------------------------------


def cards_of_shop(session: Session, merchant_id: int) -> list[StampCard]:
    """Every stamp card of a shop, the active ones first, then the oldest first."""
    return list(
        session.scalars(
            sa.select(StampCard)
            .where(StampCard.merchant_id == merchant_id)
            .order_by(StampCard.active.desc(), StampCard.id)
        )
    )


def card_of(session: Session, merchant: Merchant, card_id: int) -> StampCard:
    """One of the shop's stamp cards. Raises NotFound (not this shop's)."""
    card = session.get(StampCard, card_id)
    if card is None or card.merchant_id != merchant.id:
        raise NotFound("this shop has no such stamp card", code="unknown_stamp_card")
    return card


def deactivate_card(session: Session, merchant: Merchant, card_id: int) -> StampCard:
    """Stop giving stamps on a card; stamps given and vouchers stay. Raises NotFound."""
    card = card_of(session, merchant, card_id)
    card.active = False
    session.flush()
    return card


# -- staff -------------------------------------------------------------------------


def staff_of_shop(session: Session, merchant_id: int) -> list[StaffUser]:
    """The shop's owners and cashiers, active ones first, then by e-mail."""
    return list(
        session.scalars(
            sa.select(StaffUser)
            .where(StaffUser.merchant_id == merchant_id)
            .order_by(StaffUser.active.desc(), StaffUser.email)
        )
    )


def invite_cashier(session: Session, merchant: Merchant, email: str) -> StaffUser:
    """A cashier for the shop with an unusable password, to be replaced through a link.

    A deactivated cashier of the same shop is let back in the same way.
    Raises Forbidden (the shop is not approved), InvalidInput (e-mail), Conflict (the
    address belongs to someone else).
    """
    # The invitation goes out under the platform's name: a pending shop could
    # otherwise make it mail any address a link under a name of its choosing.
    schemes.require_approved(merchant)
    email = staff.normalise_email(email)
    # 256 random bits nobody ever sees: the invitee can only get in by choosing
    # a password through the e-mailed link.
    unusable = security.new_token()
    existing = session.scalar(sa.select(StaffUser).where(StaffUser.email == email))
    if existing is not None:
        if (
            existing.merchant_id == merchant.id
            and existing.role == Role.CASHIER
            and not existing.active
        ):
            existing.password_hash = security.hash_password(unusable)
            existing.active = True
            session.flush()
            return existing
        raise Conflict("a user with this e-mail address exists", code="email_taken")
    scheme = session.get_one(Scheme, merchant.scheme_id)
    try:
        # Two owners inviting the same address at once: the unique key on the
        # e-mail lets one win; the savepoint turns the other's failure into a
        # Conflict instead of breaking the whole request's transaction.
        with session.begin_nested():
            return staff.create_user(
                session,
                scheme,
                email=email,
                password=unusable,
                role=Role.CASHIER,
                merchant=merchant,
            )
    except sa.exc.IntegrityError:
        raise Conflict("a user with this e-mail address exists", code="email_taken") from None


def cashier_of(session: Session, merchant: Merchant, user_id: int) -> StaffUser:
    """One of the shop's cashiers. Raises NotFound (not this shop's staff) and
    Forbidden (an owner, whom this page does not manage)."""
    user = session.get(StaffUser, user_id)
    if user is None or user.merchant_id != merchant.id:
        raise NotFound("this shop has no such staff member", code="unknown_user")
    if user.role != Role.CASHIER:
        raise Forbidden("only cashiers can be deactivated here", code="not_a_cashier")
    return user


def deactivate_cashier(
    session: Session, merchant: Merchant, user_id: int, now: datetime
) -> StaffUser:
    """Shut a cashier out and end every session of theirs at once.

    Raises NotFound (not this shop's), Forbidden (an owner cannot be deactivated here).
    """
    user = cashier_of(session, merchant, user_id)
    user.active = False
    staff.revoke_sessions(session, user, now)
    session.flush()
    return user


def till_keys_of_shop(session: Session, merchant_id: int) -> list[TillKey]:
    """The shop's till keys, live ones first, then the newest first."""
    return list(
        session.scalars(
            sa.select(TillKey)
            .where(TillKey.merchant_id == merchant_id)
            .order_by(TillKey.revoked_at.is_not(None), TillKey.created_at.desc(), TillKey.id.desc())
        )
    )


# -- profile -----------------------------------------------------------------------


def sectors_in_scheme(session: Session, scheme_id: int) -> list[str]:
    """The sector codes the scheme's shops use, in code order."""
    return list(
        session.scalars(
            sa.select(Merchant.sector)
            .where(Merchant.scheme_id == scheme_id)
            .distinct()
            .order_by(Merchant.sector)
        )
    )


def _optional_text(value: str | None, limit: int, what: str, code: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"{what} may have at most {limit} characters", code=code)
    return text or None


def update_profile(
    session: Session,
    merchant: Merchant,
    *,
    address: str | None,
    postcode: str,
    opening_hours: str | None,
    sector: str,
    email: str,
) -> None:
    """Change what shoppers and the municipality see of the shop.

    Checks everything before changing anything. Raises InvalidInput with code
    invalid_postcode, unknown_sector, invalid_email, address_too_long or
    opening_hours_too_long.
    """
    new_address = _optional_text(address, MAX_ADDRESS, "the address", "address_too_long")
    new_hours = _optional_text(
        opening_hours, MAX_OPENING_HOURS, "the opening hours", "opening_hours_too_long"
    )
    postcode = postcode.strip()
    if not schemes.POSTCODE_RE.fullmatch(postcode):
        raise InvalidInput(
            "postcode must be a Belgian postcode of four digits", code="invalid_postcode"
        )
    sector = sector.strip()
    if not schemes.NACE_RE.fullmatch(sector) or not sectors.is_known(sector):
        raise InvalidInput("sector must be a NACE-BEL code such as 47.24", code="unknown_sector")
    new_email = staff.normalise_email(email)
    merchant.address = new_address
    merchant.postcode = postcode
    merchant.opening_hours = new_hours
    merchant.sector = sector
    merchant.email = new_email
    session.flush()


MAX_LOGO_BYTES = 200_000
# The first bytes of each accepted image format: the browser's claimed type is
# not trusted, and nothing that is not one of these is ever served back.
LOGO_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def logo_type_of(data: bytes) -> str | None:
    for signature, mime in LOGO_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def set_logo(session: Session, merchant: Merchant, data: bytes, now: datetime) -> None:
    """Store the shop's logo. Raises InvalidInput for other formats or large files."""
    if not data:
        raise InvalidInput("choose an image file", code="logo_missing")
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput("the logo may be at most 200 kB", code="logo_too_large")
    mime = logo_type_of(data)
    if mime is None:
        raise InvalidInput("the logo must be a PNG, JPEG or WebP image", code="logo_type")
    merchant.logo = data
    merchant.logo_type = mime
    merchant.logo_updated_at = now
    session.flush()


def remove_logo(session: Session, merchant: Merchant) -> None:
    merchant.logo = None
    merchant.logo_type = None
    merchant.logo_updated_at = None
    session.flush()
