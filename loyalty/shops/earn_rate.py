"""A shop owner's own earn rate: more points per euro than the scheme, at the shop's cost."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.models import Merchant, Scheme, StaffUser
from loyalty.oversight import audit
from loyalty.town.schemes import earn_rate_for


@dataclass(frozen=True)
class RateBounds:
    """What the owner may choose: from the scheme's rate up to its maximum."""

    current: int
    lowest: int
    highest: int


def bounds(session: Session, merchant: Merchant) -> RateBounds:
    scheme = session.get_one(Scheme, merchant.scheme_id)
    return RateBounds(earn_rate_for(scheme, merchant), scheme.earn_rate, scheme.earn_rate_max)


def set_earn_rate(
    session: Session, merchant: Merchant, actor: StaffUser | None, rate: int
) -> bool:
    """The shop's points per full euro from its next sale on (claims already made keep
    theirs), audited with the old and new rate. Returns False when nothing changed.

    Raises InvalidInput (code earn_rate_out_of_range) outside the scheme's bounds.
    """
    limits = bounds(session, merchant)
    if not limits.lowest <= rate <= limits.highest:
        raise InvalidInput(
            f"choose between {limits.lowest} and {limits.highest} points per euro",
            code="earn_rate_out_of_range",
        )
    if rate == limits.current:
        return False
    # The scheme's own rate is stored as None: the shop follows the scheme's
    # rate if the municipality raises it later.
    merchant.earn_rate = None if rate == limits.lowest else rate
    session.flush()
    audit.record(
        session, actor, "merchant.earn_rate", merchant, {"from": limits.current, "to": rate}
    )
    return True
