"""Municipal campaigns: bonus points on sales in chosen shops, paid from a capped budget.

Creating a campaign moves its budget from the municipality's account into the
campaign's own budget account (euro cents, never negative). Each sale that a
running campaign covers gets its bonus in the same ledger transaction as its
base points::

    points  merchant issued -p, campaign issued -b, wallet +(p + b)
    euro    merchant position -p x pv, campaign budget -b x pv, liability +(p + b) x pv

The database decides whether the budget can still pay: ledger.post moves the
campaign budget with ``UPDATE ... WHERE balance >= :debit`` (and a CHECK backs
it), inside a SAVEPOINT. When the budget cannot pay, the savepoint is rolled
back and the sale is posted again without the bonus, so the till always gives
its base points and no number of concurrent sales can spend beyond the cap.
A bonus is paid whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import InsufficientBalance, InvalidInput, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    CalendarEvent,
    Campaign,
    Merchant,
    Scheme,
    StaffUser,
)
from loyalty.money import accounts, ledger
from loyalty.oversight import audit
from loyalty.town import schemes, sectors

MAX_BUDGET_CENTS = 1_000_000_000  # EUR 10 million: far above a town's budget, stops typos
MAX_MULTIPLIER = Decimal(10)
MAX_BONUS_POINTS = 10_000
MAX_NAME = 200
MAX_ID = 2**31 - 1  # an INTEGER column on PostgreSQL


class Status:
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    BUDGET_SPENT = "budget_spent"
    ENDED = "ended"


def owner(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


@dataclass(frozen=True)
class Figures:
    """A campaign's live spend, read from its ledger accounts."""

    campaign: Campaign
    status: str
    budget_cents: int
    spent_cents: int
    bonus_points_given: int

    @property
    def remaining_cents(self) -> int:
        return self.budget_cents - self.spent_cents

    @property
    def spent_pct(self) -> int:
        return round(100 * self.spent_cents / self.budget_cents) if self.budget_cents else 0


def parse_multiplier(value: object) -> int:
    """A multiplier such as 2 or 1.5 as percent (200, 150). Raises InvalidInput."""
    try:
        m = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidInput("multiplier must be a number such as 2 or 1.5") from None
    if not m.is_finite() or not Decimal(1) < m <= MAX_MULTIPLIER or (m * 100) % 1:
        raise InvalidInput(
            f"multiplier must be above 1 and at most {MAX_MULTIPLIER}, with at most two decimals",
            code="invalid_multiplier",
        )
    return int(m * 100)


def create_campaign(
    session: Session,
    scheme: Scheme,
    *,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    budget_cents: int,
    now: datetime,
    multiplier_pct: int | None = None,
    bonus_points: int | None = None,
    sectors_: Sequence[str] = (),
    merchant_ids: Sequence[int] = (),
    created_by: int | None = None,
) -> Campaign:
    """A new campaign with its budget moved from the municipality. Raises InvalidInput."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("starts_at and ends_at need a time zone", code="invalid_period")
    if ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at", code="invalid_period")
    if ends_at <= now:
        raise InvalidInput("a campaign cannot end in the past", code="invalid_period")
    if isinstance(budget_cents, bool) or not 0 < budget_cents <= MAX_BUDGET_CENTS:
        raise InvalidInput(
            f"budget_cents must be between 1 and {MAX_BUDGET_CENTS}", code="invalid_budget"
        )
    if (multiplier_pct is None) == (bonus_points is None):
        raise InvalidInput("give either multiplier or bonus_points", code="invalid_bonus")
    if multiplier_pct is not None and not 100 < multiplier_pct <= MAX_MULTIPLIER * 100:
        raise InvalidInput("multiplier must be above 1 and at most 10", code="invalid_multiplier")
    if bonus_points is not None and not 0 < bonus_points <= MAX_BONUS_POINTS:
        raise InvalidInput(
            f"bonus_points must be between 1 and {MAX_BONUS_POINTS}", code="invalid_bonus"
        )
    codes = sorted({code.strip() for code in sectors_})
    for code in codes:
        if not schemes.NACE_RE.fullmatch(code) or not sectors.is_known(code):
            raise InvalidInput(
                f"{code!r} is not a NACE-BEL code or prefix such as 47 or 47.24",
                code="unknown_sector",
            )
    shop_ids = sorted(set(merchant_ids))
    if any(not 0 < i <= MAX_ID for i in shop_ids):
        raise InvalidInput("shop ids are positive 32-bit numbers", code="unknown_merchant")
    if shop_ids:
        found = set(
            session.scalars(
                sa.select(Merchant.id).where(
                    Merchant.scheme_id == scheme.id, Merchant.id.in_(shop_ids)
                )
            )
        )
        # Another scheme's shop is unknown here, like one that does not exist.
        if missing := [i for i in shop_ids if i not in found]:
            raise InvalidInput(f"unknown shop ids: {missing}", code="unknown_merchant")

    campaign = Campaign(
        scheme_id=scheme.id,
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        multiplier_pct=multiplier_pct,
        bonus_points=bonus_points,
        sectors=codes,
        merchant_ids=shop_ids,
        budget_cents=budget_cents,
        created_by=created_by,
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    if created_by is not None:
        audit.record(
            session, session.get(StaffUser, created_by), "campaign.create", scheme,
            {"campaign": campaign.id, "name": name, "budget_cents": budget_cents}, now=now,
        )
    budget = ledger.open_account(
        session, scheme.id, AccountKind.CAMPAIGN_BUDGET, Asset.EUR_CENTS, owner(campaign.id)
    )
    ledger.open_account(
        session, scheme.id, AccountKind.CAMPAIGN_ISSUED, Asset.POINTS, owner(campaign.id)
    )
    session.flush()
    accounts.fund_budget(session, scheme.id, budget, budget_cents, kind="campaign_funding",
                         memo=f"campaign #{campaign.id}", at=now)
    return campaign


def get_campaign(session: Session, scheme_id: int, campaign_id: int) -> Campaign:
    """A campaign of this scheme; another scheme's is NotFound, like a missing one."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.scheme_id != scheme_id:
        raise NotFound("no such campaign", code="unknown_campaign")
    return campaign


def list_campaigns(session: Session, scheme_id: int) -> list[Figures]:
    found = session.scalars(
        sa.select(Campaign)
        .where(Campaign.scheme_id == scheme_id)
        .order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    ).all()
    return [figures(session, c, None) for c in found]


class CampaignShop(Protocol):
    """What deciding a campaign's cover takes of a shop: an ORM Merchant or a lookup."""

    @property
    def id(self) -> int: ...

    @property
    def scheme_id(self) -> int: ...

    @property
    def sector(self) -> str: ...


def running_at(at: Any) -> sa.ColumnElement[bool]:
    """The rule of when a campaign runs, for every query that asks: from its start
    (included) to its end (excluded)."""
    return sa.and_(Campaign.starts_at <= at, Campaign.ends_at > at)


def covers(campaign: Campaign, merchant: CampaignShop) -> bool:
    """True if a sale at this shop earns the campaign's bonus."""
    if not campaign.sectors and not campaign.merchant_ids:
        return True
    if merchant.id in campaign.merchant_ids:
        return True
    # A prefix matches at a level boundary of the code: "47.2" covers "47.24".
    return any(merchant.sector.startswith(code) for code in campaign.sectors)


def bonus_for(campaign: Campaign, base_points: int) -> int:
    if base_points <= 0:
        return 0
    if campaign.bonus_points is not None:
        return campaign.bonus_points
    assert campaign.multiplier_pct is not None
    return base_points * (campaign.multiplier_pct - 100) // 100


def running_for(session: Session, merchant: CampaignShop, at: datetime) -> list[Campaign]:
    """The campaigns that cover a sale at this shop at this moment, oldest first."""
    found = session.scalars(
        sa.select(Campaign)
        .where(
            Campaign.scheme_id == merchant.scheme_id,
            running_at(at),
        )
        .order_by(Campaign.id)
    ).all()
    return [c for c in found if covers(c, merchant)]


def running_in_scheme(session: Session, scheme_id: int, at: datetime) -> list[Campaign]:
    """The campaigns a shopper can still earn a bonus from now (the wallet, the shop
    list, the digest): running by ``running_at`` and with budget for a bonus left."""
    found = session.scalars(
        sa.select(Campaign)
        .where(Campaign.scheme_id == scheme_id, running_at(at))
        .order_by(Campaign.ends_at, Campaign.id)
    ).all()
    return [c for c in found if figures(session, c, at).status == Status.ACTIVE]


def started_since(session: Session, since: datetime, at: datetime) -> list[Campaign]:
    """Campaigns of every scheme that started after ``since`` and run at ``at``."""
    return list(
        session.scalars(
            sa.select(Campaign)
            .where(Campaign.starts_at > since, running_at(at))
            .order_by(Campaign.id)
        )
    )


@dataclass(frozen=True)
class Earned:
    transaction_id: int
    bonus_points: int
    campaign_id: int | None


def post_earn(
    session: Session,
    merchant: CampaignShop,
    base_legs: list[ledger.Leg],
    base_points: int,
    wallet_account_id: int,
    point_value_cents: int,
    sale_at: datetime,
    memo: str,
    *,
    at: datetime,
    along: Sequence[ledger.Along] = (),
) -> Earned:
    """Post an earn with the bonus of the first running campaign whose budget can pay it.

    ``base_legs`` are the sale's own legs (points and euros). A campaign whose
    budget is too low is skipped; with none left, the sale gets its base points.
    ``sale_at`` picks the campaigns (when the sale happened); ``at`` dates the
    ledger transaction (when the points were collected). ``along``: statements
    that go with the posting that is kept (ledger.Along).
    """
    for campaign in running_for(session, merchant, sale_at):
        bonus = bonus_for(campaign, base_points)
        if not bonus:
            continue
        legs = base_legs + bonus_legs(
            session, campaign, bonus, wallet_account_id, point_value_cents
        )
        try:
            # The savepoint undoes the half-posted transaction if the budget's
            # guarded UPDATE matches no row, so the plain earn can follow.
            with session.begin_nested():
                txn_id = ledger.post(
                    session, merchant.scheme_id, "earn", legs, memo=memo,
                    point_value_cents=point_value_cents, at=at, along=along,
                )
        except InsufficientBalance:
            continue
        return Earned(txn_id, bonus, campaign.id)
    txn_id = ledger.post(
        session, merchant.scheme_id, "earn", base_legs, memo=memo,
        point_value_cents=point_value_cents, at=at, along=along,
    )
    return Earned(txn_id, 0, None)


def bonus_legs(
    session: Session,
    campaign: Campaign,
    bonus: int,
    wallet_account_id: int,
    point_value_cents: int,
) -> list[ledger.Leg]:
    """Bonus points from the campaign into the wallet, their value from its budget."""
    value = accounts.value_of(bonus, point_value_cents)
    issued = ledger.account(
        session, campaign.scheme_id, AccountKind.CAMPAIGN_ISSUED, Asset.POINTS,
        owner(campaign.id),
    )
    budget = ledger.account(
        session, campaign.scheme_id, AccountKind.CAMPAIGN_BUDGET, Asset.EUR_CENTS,
        owner(campaign.id),
    )
    wallet = session.get_one(Account, wallet_account_id)
    return [
        ledger.Leg(issued, -bonus),
        ledger.Leg(wallet, bonus),
        ledger.Leg(budget, -value),
        ledger.Leg(
            accounts.scheme_account(session, campaign.scheme_id, AccountKind.POINTS_LIABILITY),
            value,
        ),
    ]


def figures(session: Session, campaign: Campaign, now: datetime | None) -> Figures:
    """Budget, spend and bonus points given, read from the campaign's accounts."""
    now = now or utcnow()
    balances = dict(
        session.execute(
            sa.select(Account.kind, Account.balance).where(
                Account.scheme_id == campaign.scheme_id,
                Account.owner_key == owner(campaign.id),
            )
        ).all()
    )
    remaining = int(balances.get(AccountKind.CAMPAIGN_BUDGET, 0))
    given = -int(balances.get(AccountKind.CAMPAIGN_ISSUED, 0))
    point_value = session.scalars(
        sa.select(Scheme.point_value_cents).where(Scheme.id == campaign.scheme_id)
    ).one()
    if now < campaign.starts_at:
        status = Status.SCHEDULED
    elif now >= campaign.ends_at:
        status = Status.ENDED
    elif remaining < point_value * (campaign.bonus_points or 1):
        # Not even the smallest bonus fits (a bonus is paid whole or not at all).
        status = Status.BUDGET_SPENT
    else:
        status = Status.ACTIVE
    return Figures(campaign, status, campaign.budget_cents, campaign.budget_cents - remaining,
                   given)


# -- events on the calendar ---------------------------------------------------

MAX_EVENT_DAYS = 31


def create_event(
    session: Session,
    scheme: Scheme,
    *,
    name: str,
    starts_on: date,
    ends_on: date,
    created_by: StaffUser | None = None,
) -> CalendarEvent:
    """Mark a local event ("Kerstmarkt") on the calendar. Raises InvalidInput."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters")
    if ends_on < starts_on:
        raise InvalidInput("the event cannot end before it starts", code="invalid_period")
    if (ends_on - starts_on).days >= MAX_EVENT_DAYS:
        raise InvalidInput(f"an event lasts at most {MAX_EVENT_DAYS} days", code="invalid_period")
    event = CalendarEvent(scheme_id=scheme.id, name=name, starts_on=starts_on, ends_on=ends_on)
    session.add(event)
    session.flush()
    if created_by is not None:
        audit.record(
            session, created_by, "event.create", scheme,
            {"event": event.id, "name": name, "from": str(starts_on), "to": str(ends_on)},
        )
    return event


def get_event(session: Session, scheme_id: int, event_id: int) -> CalendarEvent:
    event = session.get(CalendarEvent, event_id)
    if event is None or event.scheme_id != scheme_id:
        raise NotFound("no such event", code="unknown_event")
    return event


def list_events(session: Session, scheme_id: int) -> list[CalendarEvent]:
    return list(
        session.scalars(
            sa.select(CalendarEvent)
            .where(CalendarEvent.scheme_id == scheme_id)
            .order_by(CalendarEvent.starts_on.desc(), CalendarEvent.id.desc())
        )
    )
