"""What the weekly e-mail digest of a wallet says: campaigns, the town's messages, points
about to expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from loyalty.earning import campaigns
from loyalty.models import Campaign, Scheme, TownMessage, Wallet
from loyalty.shoppers import expiry
from loyalty.town import messages


@dataclass(frozen=True)
class Digest:
    scheme: Scheme
    campaigns: list[Campaign]
    messages: list[TownMessage]
    expiring_points: int

    @property
    def empty(self) -> bool:
        return not (self.campaigns or self.messages or self.expiring_points)


def content(session: Session, wallet_id: int, now: datetime) -> Digest:
    wallet = session.get_one(Wallet, wallet_id)
    scheme = session.get_one(Scheme, wallet.scheme_id)
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    soon = expiry.old_points(session, wallet, expiry.cutoff(scheme, now, expiry.REMINDER_DAYS))
    return Digest(
        scheme=scheme,
        campaigns=campaigns.running_in_scheme(session, scheme.id, now),
        messages=messages.current(session, scheme.id, today),
        expiring_points=soon,
    )
