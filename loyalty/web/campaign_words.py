"""A running campaign in the reader's plain words: "Dubbele punten bij Brood en banket tot
zondag 8 december". Shared by the wallet, the shop list, the push messages and the digest."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from loyalty.earning import campaigns
from loyalty.models import Campaign, Merchant, Scheme
from loyalty.town import sectors
from loyalty.web import i18n


def bonus(campaign: Campaign) -> str:
    """The badge: "Dubbele punten", "Points x1,5", "5 bonuspunten"."""
    if campaign.bonus_points is not None:
        return ngettext("%(num)d bonus point", "%(num)d bonus points", campaign.bonus_points)
    pct = campaign.multiplier_pct or 100
    if pct == 200:
        return _("Double points")
    if pct == 300:
        return _("Triple points")
    return _("Points x%(times)s", times=i18n.decimal(pct / 100))


def _where(session: Session, campaign: Campaign) -> str:
    lang = i18n.babel_locale()[:2]
    names = [sectors.short_label(code, lang) for code in campaign.sectors]
    if campaign.merchant_ids:
        names += list(session.scalars(
            sa.select(Merchant.name).where(Merchant.id.in_(campaign.merchant_ids))
            .order_by(Merchant.name)
        ))
    return ", ".join(dict.fromkeys(names))


def last_day(campaign: Campaign, zone: str) -> str:
    """The campaign's last day, said in full: "zondag 8 december"."""
    # ends_at is the first moment it no longer runs: the day before that moment.
    end = (campaign.ends_at - timedelta(microseconds=1)).astimezone(ZoneInfo(zone))
    return format_date(end.date(), "EEEE d MMMM", locale=i18n.babel_locale())


def sentence(session: Session, campaign: Campaign, zone: str | None = None) -> str:
    if zone is None:
        zone = session.scalars(
            sa.select(Scheme.timezone).where(Scheme.id == campaign.scheme_id)
        ).one()
    day = last_day(campaign, zone)
    if not campaign.sectors and not campaign.merchant_ids:
        return _("%(bonus)s in every shop until %(day)s", bonus=bonus(campaign), day=day)
    return _("%(bonus)s at %(where)s until %(day)s", bonus=bonus(campaign),
             where=_where(session, campaign), day=day)


def running(session: Session, scheme_id: int, now: datetime) -> list[str]:
    """The running campaigns of a scheme, one sentence each."""
    zone = session.get_one(Scheme, scheme_id).timezone
    found = campaigns.running_in_scheme(session, scheme_id, now)
    return [sentence(session, c, zone) for c in found]
