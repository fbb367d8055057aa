"""A municipality changes its scheme's settings: checked as a whole, audited."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.models import Scheme, StaffUser
from loyalty.oversight import audit

# Bounds a municipality may choose within. Points worth more than a euro, or
# codes that live for days, are typing mistakes rather than policy.
POINT_VALUE_CENTS = (1, 100)
EARN_RATE = (1, 100)
VALIDITY_MONTHS = (1, 120)
# Below 5 shoppers a figure starts to describe a person; see DESIGN.md.
K_ANONYMITY = (5, 1000)
CLAIM_TTL_MINUTES = (1, 24 * 60)
HOLD_TTL_MINUTES = (1, 60)
INHABITANTS = (1, 10_000_000)
# Long enough to notice a mistyped sale on the next statement check; short
# enough that a shopper's points do not move weeks after the purchase.
CORRECTION_DAYS = (1, 60)
# The till's "is this right?" above this many euros (the sale limit is 5000).
CONFIRM_ABOVE_EUROS = (1, 5000)
# The released statistics (docs/privacy.md): the privacy budget a closed day
# spends is one of these (smaller protects more, with more noise), and how much
# of one shopper's day counts at most.
RELEASE_EPSILONS = (0.25, 0.5, 1.0, 2.0, 4.0)
RELEASE_MAX_PURCHASES = (1, 20)
RELEASE_MAX_EUROS = (1, 1000)
MAX_VILLAGES = 50
# Gift vouchers on sale (loyalty.money.vouchers): a few amounts, in whole euros.
VOUCHER_EUROS = (5, 500)
MAX_VOUCHER_AMOUNTS = 6
MAX_VILLAGE_LENGTH = 100
# The published texts name it (loyalty.town.published_texts); one address, as typed.
CONTACT_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True)
class SchemeSettings:
    point_value_cents: int
    earn_rate: int
    earn_rate_max: int
    validity_months: int
    k_anonymity: int
    claim_ttl_seconds: int
    hold_ttl_seconds: int
    villages: list[str]
    inhabitants: int | None
    compare_opt_in: bool
    correction_days: int
    confirm_above_cents: int
    contact_email: str | None
    release_epsilon_per_day: float = 1.0
    release_max_purchases: int = 3
    release_epsilon_per_period: float = 1.0
    release_max_cents: int = 10_000
    release_campaign_epsilon: float = 1.0
    open_data: bool = False
    voucher_amounts_cents: list[int] = field(default_factory=lambda: [1000, 2500, 5000])

    @classmethod
    def of(cls, scheme: Scheme) -> SchemeSettings:
        return cls(**{f.name: getattr(scheme, f.name) for f in fields(cls)})


def parse_villages(text: str) -> list[str]:
    """One village a line; blank lines dropped, spaces trimmed, order kept."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_voucher_amounts(text: str) -> list[int] | None:
    """ "10, 25, 50" (euros, as typed) in cents, smallest first; None if not whole numbers."""
    parts = [p for p in re.split(r"[\s,;]+", text.replace("€", "")) if p]
    if not all(p.isdigit() for p in parts):
        return None
    return sorted(int(p) * 100 for p in parts)


def _within(name: str, value: int, bounds: tuple[int, int], scale: int = 1) -> None:
    low, high = bounds
    if not low * scale <= value <= high * scale:
        raise InvalidInput(f"{name} must be between {low} and {high}", code=f"invalid_{name}")


def validate(settings: SchemeSettings) -> None:
    """Raises InvalidInput with code invalid_<field> for the first field out of bounds."""
    _within("point_value_cents", settings.point_value_cents, POINT_VALUE_CENTS)
    _within("earn_rate", settings.earn_rate, EARN_RATE)
    _within("earn_rate_max", settings.earn_rate_max, EARN_RATE)
    if settings.earn_rate_max < settings.earn_rate:
        raise InvalidInput(
            "the most points a shop may give cannot be below the scheme's rate",
            code="invalid_earn_rate_max",
        )
    _within("validity_months", settings.validity_months, VALIDITY_MONTHS)
    _within("k_anonymity", settings.k_anonymity, K_ANONYMITY)
    _within("claim_ttl_seconds", settings.claim_ttl_seconds, CLAIM_TTL_MINUTES, 60)
    _within("hold_ttl_seconds", settings.hold_ttl_seconds, HOLD_TTL_MINUTES, 60)
    _within("correction_days", settings.correction_days, CORRECTION_DAYS)
    _within("confirm_above_cents", settings.confirm_above_cents, CONFIRM_ABOVE_EUROS, 100)
    if settings.release_epsilon_per_day not in RELEASE_EPSILONS:
        raise InvalidInput("choose one of the privacy budgets offered",
                           code="invalid_release_epsilon_per_day")
    if settings.release_campaign_epsilon not in RELEASE_EPSILONS:
        raise InvalidInput("choose one of the privacy budgets offered",
                           code="invalid_release_campaign_epsilon")
    if settings.release_epsilon_per_period not in RELEASE_EPSILONS:
        raise InvalidInput("choose one of the privacy budgets offered",
                           code="invalid_release_epsilon_per_period")
    _within("release_max_purchases", settings.release_max_purchases, RELEASE_MAX_PURCHASES)
    _within("release_max_cents", settings.release_max_cents, RELEASE_MAX_EUROS, 100)
    amounts = settings.voucher_amounts_cents
    if (
        not 1 <= len(amounts) <= MAX_VOUCHER_AMOUNTS
        or len(set(amounts)) != len(amounts)
        or any(a % 100 or not VOUCHER_EUROS[0] * 100 <= a <= VOUCHER_EUROS[1] * 100
               for a in amounts)
    ):
        raise InvalidInput(
            f"1 to {MAX_VOUCHER_AMOUNTS} different voucher amounts of {VOUCHER_EUROS[0]} to "
            f"{VOUCHER_EUROS[1]} euros", code="invalid_voucher_amounts",
        )
    if settings.inhabitants is not None:
        _within("inhabitants", settings.inhabitants, INHABITANTS)
    villages = settings.villages
    if not 1 <= len(villages) <= MAX_VILLAGES:
        raise InvalidInput(f"name between 1 and {MAX_VILLAGES} villages", code="invalid_villages")
    if any(len(v) > MAX_VILLAGE_LENGTH for v in villages):
        raise InvalidInput("a village name is too long", code="invalid_villages")
    if len({v.casefold() for v in villages}) != len(villages):
        raise InvalidInput("a village is named twice", code="invalid_villages")
    contact = settings.contact_email
    if contact is not None and (
        len(contact) > MAX_EMAIL_LENGTH or not CONTACT_EMAIL_RE.fullmatch(contact)
    ):
        raise InvalidInput("not a valid e-mail address", code="invalid_contact_email")
    if settings.compare_opt_in and settings.inhabitants is None:
        # Figures per inhabitant need the number of inhabitants.
        raise InvalidInput(
            "the comparison needs the number of inhabitants", code="invalid_inhabitants"
        )


def update(
    session: Session, scheme: Scheme, actor: StaffUser | None, settings: SchemeSettings
) -> dict[str, Any]:
    """Check every setting, then change them and audit what changed (old and new).

    Returns the changes. Raises InvalidInput before changing anything.
    """
    validate(settings)
    before = SchemeSettings.of(scheme)
    changes = {
        f.name: [getattr(before, f.name), getattr(settings, f.name)]
        for f in fields(SchemeSettings)
        if getattr(before, f.name) != getattr(settings, f.name)
    }
    if not changes:
        return {}
    for name, (_old, new) in changes.items():
        setattr(scheme, name, new)
    session.flush()
    audit.record(session, actor, "scheme.settings", scheme, {"changes": changes})
    return changes
