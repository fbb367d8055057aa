"""Schemes (one per municipality) and the shops that join them."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, Forbidden, InvalidInput, NotFound
from loyalty.models import AccountKind, Asset, Merchant, MerchantStatus, Scheme
from loyalty.money import accounts, ledger
from loyalty.town import sectors

# Used with fullmatch: "$" would also accept a trailing newline; ASCII: no Arabic digits.
SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*", re.ASCII)
NACE_RE = re.compile(r"\d{2}(?:\.\d{1,3})?", re.ASCII)
POSTCODE_RE = re.compile(r"[1-9]\d{3}", re.ASCII)


DEFAULT_EARN_RATE_MAX = 10


def create_scheme(session: Session, slug: str, name: str, **settings: object) -> Scheme:
    """A new scheme with its scheme-level accounts. Raises InvalidInput, Conflict."""
    if not SLUG_RE.fullmatch(slug) or len(slug) > 60:
        raise InvalidInput("slug: lowercase letters, digits and dashes only")
    if not name.strip():
        raise InvalidInput("name must not be empty")
    if session.scalar(sa.select(Scheme.id).where(Scheme.slug == slug)) is not None:
        raise Conflict(f"a scheme with slug {slug!r} exists", code="scheme_exists")
    rate = settings.get("earn_rate")
    if "earn_rate_max" not in settings and isinstance(rate, int):
        # The default maximum (10) never sits below a generous scheme's own rate.
        settings["earn_rate_max"] = max(DEFAULT_EARN_RATE_MAX, rate)
    scheme = Scheme(slug=slug, name=name.strip(), **settings)
    session.add(scheme)
    # Flush for the scheme id that its accounts refer to.
    session.flush()
    for kind in (AccountKind.HOLDS, AccountKind.BREAKAGE):
        ledger.open_account(session, scheme.id, kind, Asset.POINTS, ledger.SCHEME_OWNER)
    accounts.open_scheme_accounts(session, scheme.id)
    session.flush()
    return scheme


def get_scheme(session: Session, slug: str) -> Scheme:
    scheme = session.scalar(sa.select(Scheme).where(Scheme.slug == slug))
    if scheme is None:
        raise NotFound(f"no scheme {slug!r}")
    return scheme


def create_merchant(
    session: Session,
    scheme: Scheme,
    *,
    name: str,
    sector: str,
    postcode: str,
    email: str,
    address: str | None = None,
    status: MerchantStatus = MerchantStatus.PENDING,
    earn_rate: int | None = None,
) -> Merchant:
    """A shop in a scheme, with its point accounts. Raises InvalidInput."""
    if not name.strip():
        raise InvalidInput("name must not be empty")
    if not NACE_RE.fullmatch(sector) or not sectors.is_known(sector):
        raise InvalidInput("sector must be a NACE-BEL code such as 47.24", code="unknown_sector")
    if not POSTCODE_RE.fullmatch(postcode):
        raise InvalidInput("postcode must be a Belgian postcode of four digits")
    if earn_rate is not None and earn_rate < scheme.earn_rate:
        raise InvalidInput("a shop may give more points than the scheme's rate, not fewer")
    if earn_rate is not None and earn_rate > scheme.earn_rate_max:
        raise InvalidInput(
            f"a shop may give at most {scheme.earn_rate_max} points per euro in this scheme",
            code="earn_rate_out_of_range",
        )
    merchant = Merchant(
        scheme_id=scheme.id,
        name=name.strip(),
        sector=sector,
        postcode=postcode,
        email=email,
        address=address,
        status=status,
        earn_rate=earn_rate,
    )
    session.add(merchant)
    # Flush for the merchant id that its accounts refer to.
    session.flush()
    owner = ledger.merchant_owner(merchant.id)
    for kind in (AccountKind.MERCHANT_ISSUED, AccountKind.MERCHANT_REDEEMED):
        ledger.open_account(session, scheme.id, kind, Asset.POINTS, owner, merchant_id=merchant.id)
    accounts.open_merchant_accounts(session, scheme.id, merchant.id)
    session.flush()
    return merchant


def require_approved(merchant: Merchant) -> None:
    """Raises Forbidden unless the municipality approved the shop (and did not suspend it):
    a pending shop may not hand out till keys, invitations or cards in the platform's name."""
    if merchant.status != MerchantStatus.APPROVED:
        raise Forbidden("this shop is not approved", code="merchant_not_approved")


def approved_merchants(session: Session, scheme_id: int | None = None) -> list[Merchant]:
    stmt = sa.select(Merchant).where(Merchant.status == MerchantStatus.APPROVED)
    if scheme_id is not None:
        stmt = stmt.where(Merchant.scheme_id == scheme_id)
    return list(session.scalars(stmt.order_by(Merchant.name)))


def earn_rate_for(scheme: Scheme, merchant: Merchant) -> int:
    return effective_earn_rate(scheme.earn_rate, merchant.earn_rate, scheme.earn_rate_max)


def effective_earn_rate(scheme_rate: int, shop_rate: int | None, scheme_max: int) -> int:
    """Points per full euro: a shop may give more than its scheme, never less, and
    not more than the scheme's maximum (lowered since the owner chose the rate)."""
    return max(scheme_rate, min(shop_rate or 0, scheme_max))
