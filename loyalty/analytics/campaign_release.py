"""A campaign's own release: the few figures its evaluation needs, computed once.

The daily released tables (``release``) put noise on every sector cell of every
day; a campaign's groups of shops are sums of many such cells, so their noise
is far larger than a town's campaign effect (docs/privacy.md). Once a
campaign's windows ("before" and "during", as ``evaluation.campaign_periods``
defines them) have closed, ``release_campaign`` releases, once:

1. per group of shops (``participating``: the shops the campaign covers,
   ``other``: the rest) and per day of the windows, the number of purchases;
   no amount, no other figure and no cell per shop;
2. with every shopper's day bounded by the daily release's rule
   (``release.bounded``) at one purchase (its first of the day): so adding or
   removing one shopper's day moves the whole vector by at most 1 (L1);
3. with discrete Laplace noise from OpenDP (``release.noisy``) at the scale
   that spends the scheme's ``release_campaign_epsilon`` (1 / epsilon; the
   library computes what was spent, which is stored with the release).

Each figure is a whole group's day, some 50 to 80 shopper-days in the test
town, with noise of scale 1 at the default budget; the daily sector cells have noise of scale 36
each. The estimate then varies about as much as it would on exact data. The
campaign's row in ``analytics_campaign_releases`` is inserted first in the same
transaction; its key makes a second release (a rerun, another worker) fail
and write nothing, so a released figure never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import release
from loyalty.analytics.evaluation import GROUPS, campaign_periods
from loyalty.analytics.privacy import MIN_SHOPS
from loyalty.earning import campaigns as campaign_rules
from loyalty.models import (
    Campaign,
    CampaignRelease,
    CampaignReleasedDay,
    Merchant,
    PurchaseEvent,
    Scheme,
)

# A shopper's day counts once (its first purchase): the number of shopper-days per
# group is the figure, and one shopper's day moves it by at most 1.
MAX_PURCHASES = 1


def scale(scheme: Scheme) -> float:
    """The noise scale of a campaign release: sensitivity 1 over its budget."""
    return MAX_PURCHASES / float(scheme.release_campaign_epsilon or 1.0)


def windows(campaign: Campaign, tz: str) -> tuple[date, date, date]:
    """The first day of "before", the first and the last day of "during"."""
    # "before" and "during" do not depend on today; only "after" does.
    periods = campaign_periods(campaign, tz, date.max)
    return periods["before"][0], periods["during"][0], periods["during"][1]


def _last_closed(scheme: Scheme, now: datetime) -> date:
    return (now.astimezone(ZoneInfo(scheme.timezone)) - release.GRACE).date() - timedelta(days=1)


def _groups(session: Session, campaign: Campaign) -> dict[int, str]:
    """Each shop of the scheme and its group, as the shops are at the release."""
    return {
        merchant.id: "participating" if campaign_rules.covers(campaign, merchant) else "other"
        for merchant in session.scalars(
            sa.select(Merchant).where(Merchant.scheme_id == campaign.scheme_id))
    }


def release_campaign(session: Session, campaign: Campaign, now: datetime) -> int | None:
    """Release a campaign's figures once its windows have closed. Returns the number
    of figures written; 0 when it cannot be released (windows still open, or a
    group of fewer than three shops: nothing is spent); None when it was
    released already, by an earlier run or a concurrent one."""
    if session.get(CampaignRelease, campaign.id) is not None:
        return None
    scheme = session.get_one(Scheme, campaign.scheme_id)
    first, during_first, last = windows(campaign, scheme.timezone)
    if last > _last_closed(scheme, now):
        return 0
    group_of = _groups(session, campaign)
    shops = {group: sum(1 for g in group_of.values() if g == group) for group in GROUPS}
    if min(shops.values()) < MIN_SHOPS:
        return 0
    rows = session.execute(
        sa.select(PurchaseEvent.id, PurchaseEvent.shopper_key, PurchaseEvent.merchant_id,
                  PurchaseEvent.local_date, PurchaseEvent.amount_cents)
        .where(PurchaseEvent.scheme_id == scheme.id,
               PurchaseEvent.local_date.between(first, last)))
    # The daily release's bounding, per shopper and day (the key holds both).
    purchases = [
        release.Purchase(id=row.id, shopper_key=f"{row.local_date}|{row.shopper_key}",
                         sector=group_of.get(row.merchant_id, "other"), area="",
                         age_band="", hour=0, amount_cents=row.amount_cents)
        for row in rows
    ]
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    keys = [(group, day) for group in GROUPS for day in days]
    exact = dict.fromkeys(keys, 0)
    # Amounts are not released; the bound on them does not matter here.
    for purchase, _cents in release.bounded(purchases, MAX_PURCHASES, 0):
        day = date.fromisoformat(purchase.shopper_key.partition("|")[0])
        exact[(purchase.sector, day)] += 1
    noise_scale = scale(scheme)
    figures, spent = release.noisy([exact[k] for k in keys], MAX_PURCHASES, noise_scale)
    try:
        # The campaign's key first: of two releases, the second fails here (on
        # PostgreSQL it waits for the first to commit) and writes no figure.
        with session.begin_nested():
            session.add(CampaignRelease(
                campaign_id=campaign.id, scheme_id=scheme.id, before_first=first,
                during_first=during_first, during_last=last,
                participating_shops=shops["participating"], other_shops=shops["other"],
                epsilon=spent, max_purchases=MAX_PURCHASES,
                purchases_scale=noise_scale))
            session.flush()
    except sa.exc.IntegrityError:
        return None
    session.execute(sa.insert(CampaignReleasedDay), [
        {"campaign_id": campaign.id, "group": group, "day": day, "purchases": figure}
        for (group, day), figure in zip(keys, figures, strict=True)
    ])
    return len(keys)


@dataclass(frozen=True)
class Result:
    campaigns: int  # released by this call
    figures: int
    already: int  # found released (by a concurrent run) and left as they were


def release_campaigns(session: Session, scheme: Scheme, now: datetime) -> Result:
    """Release every campaign of the scheme whose windows have closed and that has no
    release yet."""
    pending = session.scalars(
        sa.select(Campaign)
        .where(Campaign.scheme_id == scheme.id, Campaign.ends_at <= now,
               ~sa.exists().where(CampaignRelease.campaign_id == Campaign.id))
        .order_by(Campaign.id))
    released = figures = already = 0
    for campaign in pending.all():
        written = release_campaign(session, campaign, now)
        if written is None:
            already += 1
        elif written:
            released += 1
            figures += written
    return Result(released, figures, already)


@dataclass(frozen=True)
class Budget:
    campaigns: int
    epsilon_spent: float  # per shopper-day summed over the year's window days


def budget(session: Session, scheme_id: int, year: int) -> Budget:
    """What the campaign releases spent in a year, counted as the daily budgets are: for
    someone who shopped on every day of the windows, each window day of the year
    adds the release's epsilon."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    count, spent = 0, 0.0
    for first, last, epsilon in session.execute(
        sa.select(CampaignRelease.before_first, CampaignRelease.during_last,
                  CampaignRelease.epsilon)
        .where(CampaignRelease.scheme_id == scheme_id,
               CampaignRelease.before_first <= end, CampaignRelease.during_last >= start)
    ):
        count += 1
        spent += epsilon * ((min(last, end) - max(first, start)).days + 1)
    return Budget(count, spent)
