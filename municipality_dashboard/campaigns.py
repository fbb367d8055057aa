"""Dashboard pages for campaigns and events: create, follow the budget, evaluate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.numbers import format_decimal
from flask import abort, redirect, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from loyalty.analytics import evaluation
from loyalty.earning import campaigns
from loyalty.errors import InvalidInput, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import Campaign, Merchant, MerchantStatus, Scheme
from loyalty.town import sectors
from loyalty.web import db, i18n, replica
from loyalty.web.i18n import BABEL_LOCALES, euro
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.campaign_forms import CampaignForm, EventForm
from municipality_dashboard.common import ADMIN, STAFF, bp, current_scheme, render


def _status_label(status: str) -> str:
    return {
        campaigns.Status.SCHEDULED: _("scheduled"),
        campaigns.Status.ACTIVE: _("running"),
        campaigns.Status.BUDGET_SPENT: _("budget spent"),
        campaigns.Status.ENDED: _("ended"),
    }[status]


def _period_label(period: str) -> str:
    return {"before": _("Before"), "during": _("During"), "after": _("After")}[period]


def _group_label(group: str) -> str:
    return {"participating": _("Participating shops"), "other": _("Other shops")}[group]


def _not_evaluable(reason: str, ends: str) -> str:
    return {
        "not_ended": _("The evaluation is ready after the end (%(date)s).", date=ends),
        "too_few_shops": _(
            "Fewer than 3 participating or 3 other shops sold both before and during: "
            "an evaluation would describe single shops, so there is none."
        ),
        "too_little_history": _(
            "There are not enough earlier weeks with sales to compare with."
        ),
        "too_noisy": _(
            "Too few sales for the random noise added to the statistics for privacy: "
            "there is no evaluation."
        ),
    }[reason]


def _bonus_text(campaign: Campaign) -> str:
    if campaign.multiplier_pct is not None:
        factor = campaign.multiplier_pct / 100
        return _("points ×%(factor)s", factor=f"{factor:g}".replace(".", ","))
    return _("%(points)s bonus points per sale", points=campaign.bonus_points)


def _covered(campaign: Campaign, lang: str) -> str:
    if not campaign.sectors and not campaign.merchant_ids:
        return _("every shop")
    parts = [f"{code} {sectors.short_label(code, lang)}" for code in campaign.sectors]
    if campaign.merchant_ids:
        parts += db().scalars(
            sa.select(Merchant.name).where(Merchant.id.in_(campaign.merchant_ids))
            .order_by(Merchant.name)
        ).all()
    return ", ".join(parts)


def _pct(value: float) -> str:
    return format_decimal(value, "0.#", locale=BABEL_LOCALES.get(str(get_locale()), "nl_BE"))


def _local_day(moment: datetime, scheme: Scheme) -> date:
    return moment.astimezone(ZoneInfo(scheme.timezone)).date()


def _last_day(campaign: Campaign, scheme: Scheme) -> date:
    return _local_day(campaign.ends_at - timedelta(microseconds=1), scheme)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    patterned: bool
    value: str
    title: str


CHART_W, CHART_H, BASE_Y, TOP = 560, 260, 220, 30


def _bars(
    groups: list[list[tuple[int | None, str, bool]]], labels: list[str]
) -> tuple[list[Bar], list[tuple[float, str]]]:
    """Grouped bars: per label a group of (value, title, patterned) bars, scaled to the top."""
    values = [v for group in groups for v, _t, _p in group if v is not None]
    top = max(values, default=1) or 1
    slot = (CHART_W - 40) / max(1, len(groups))
    bars, ticks = [], []
    for i, group in enumerate(groups):
        width = min(70.0, (slot - 20) / max(1, len(group)))
        start = 40 + i * slot + (slot - width * len(group)) / 2
        for j, (value, title, patterned) in enumerate(group):
            height = 0.0 if value is None else (BASE_Y - TOP) * value / top
            bars.append(Bar(start + j * width, BASE_Y - height, width - 6, height, patterned,
                            _("hidden") if value is None else euro(value), title))
        ticks.append((40 + i * slot + slot / 2, labels[i]))
    return bars, ticks


@bp.get("/campaigns")
@staff_required(*STAFF)
def campaigns_page() -> Any:
    scheme = current_scheme()
    found = campaigns.list_campaigns(db(), scheme.id)
    return render(
        "campaigns.html",
        found=found,
        day=i18n.long_day,
        status_label=_status_label,
        last_day=lambda c: _last_day(c, scheme),
        first_day=lambda c: _local_day(c.starts_at, scheme),
    )


def _shop_choices(scheme: Scheme) -> list[tuple[int, str]]:
    return [
        (mid, name)
        for mid, name in db().execute(
            sa.select(Merchant.id, Merchant.name)
            .where(Merchant.scheme_id == scheme.id, Merchant.status == MerchantStatus.APPROVED)
            .order_by(Merchant.name)
        )
    ]


@bp.route("/campaigns/new", methods=["GET", "POST"])
@staff_required(*ADMIN)
def new_campaign() -> Any:
    scheme = current_scheme()
    form = CampaignForm()
    form.shops.choices = _shop_choices(scheme)
    if form.validate_on_submit():
        zone = ZoneInfo(scheme.timezone)

        def midnight(day: date) -> datetime:
            return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)

        try:
            campaign = campaigns.create_campaign(
                db(), scheme,
                name=form.name.data or "",
                starts_at=midnight(form.starts_on.data),
                ends_at=midnight(form.ends_on.data + timedelta(days=1)),
                budget_cents=int(round(form.budget.data * 100)),
                now=utcnow(),
                multiplier_pct=campaigns.parse_multiplier(form.multiplier.data)
                if form.kind.data == "multiplier" else None,
                bonus_points=form.bonus_points.data if form.kind.data == "fixed" else None,
                sectors_=form.sector_codes(),
                merchant_ids=form.shops.data or [],
                created_by=current_staff().user.id,
            )
        except InvalidInput as error:
            field = {
                "unknown_sector": form.sectors,
                "invalid_period": form.ends_on,
                "invalid_multiplier": form.multiplier,
                "invalid_bonus": form.bonus_points,
                "invalid_budget": form.budget,
                "unknown_merchant": form.shops,
            }.get(error.code, form.name)
            field.errors = [{
                "unknown_sector": _("Use NACE-BEL codes or their first digits, such as 47.24 "
                                    "or 56."),
                "invalid_period": _("A campaign must end after today and after its start."),
            }.get(error.code, _("Check this value."))]
        else:
            return redirect(url_for("dashboard.campaign_page", campaign_id=campaign.id), 303)
    return render("campaign_new.html", 422 if form.is_submitted() else 200, form=form)


@bp.get("/campaigns/<int:campaign_id>")
@staff_required(*STAFF)
def campaign_page(campaign_id: int) -> Any:
    scheme = current_scheme()
    session = db()
    lang = str(get_locale())
    try:
        campaign = campaigns.get_campaign(session, scheme.id, campaign_id)
    except NotFound:
        abort(404)
    now = utcnow()
    figures = campaigns.figures(session, campaign, now)
    result = reason = None
    lag = None
    try:
        # The evaluation is a report: a read replica may answer it (loyalty.web.replica).
        read = replica.read(lambda reads: evaluation.evaluate_campaign(reads, campaign, now))
        result, lag = read.value, read.lag_notice
    except evaluation.NotEvaluable as error:
        reason = _not_evaluable(error.reason, i18n.long_day(_last_day(campaign, scheme)))
    chart = None
    if result is not None:
        periods = list(result.periods)
        groups = [
            [
                (row.daily_per_shop_cents, f"{_group_label(row.group)}, {_period_label(p)}",
                 row.group == "other")
                for row in result.rows if row.period == p
            ]
            for p in periods
        ]
        chart = _bars(groups, [_period_label(p) for p in periods])
    return render(
        "campaign.html",
        day=i18n.long_day,
        pct=_pct,
        scheme=scheme,
        campaign=campaign,
        figures=figures,
        status_label=_status_label,
        bonus=_bonus_text(campaign),
        covered=_covered(campaign, lang),
        first_day=_local_day(campaign.starts_at, scheme),
        last_day=_last_day(campaign, scheme),
        result=result,
        reason=reason,
        summary=evaluation.summary(result.estimate, lang) if result else None,
        chart=chart,
        chart_size=(CHART_W, CHART_H, BASE_Y),
        period_label=_period_label,
        group_label=_group_label,
        replica_lag=lag,
    )


@bp.route("/events", methods=["GET", "POST"])
@staff_required(*STAFF)
def events_page() -> Any:
    scheme = current_scheme()
    is_admin = current_staff().user.role in ADMIN
    form = EventForm()
    status = 200
    if form.is_submitted():
        if not is_admin:
            abort(403)
        if form.validate():
            event = campaigns.create_event(
                db(), scheme, name=form.name.data or "",
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                created_by=current_staff().user,
            )
            return redirect(url_for("dashboard.event_page", event_id=event.id), 303)
        status = 422
    return render(
        "events.html", status, form=form if is_admin else None, day=i18n.long_day,
        found=campaigns.list_events(db(), scheme.id),
    )


@bp.get("/events/<int:event_id>")
@staff_required(*STAFF)
def event_page(event_id: int) -> Any:
    scheme = current_scheme()
    session = db()
    try:
        event = campaigns.get_event(session, scheme.id, event_id)
    except NotFound:
        abort(404)
    result = reason = None
    lag = None
    try:
        read = replica.read(lambda reads: evaluation.evaluate_event(reads, event, utcnow()))
        result, lag = read.value, read.lag_notice
    except evaluation.NotEvaluable as error:
        reason = _not_evaluable(error.reason, i18n.long_day(event.ends_on))
    chart = None
    if result is not None:
        labels = [i18n.day(d.day) for d in result.days]
        chart = _bars(
            [
                [(d.cell.amount_cents, _("Event day"), False),
                 (d.baseline_cents, _("Usual (same weekday, weeks before)"), True)]
                for d in result.days
            ],
            labels,
        )
    return render(
        "event.html",
        day=i18n.long_day,
        k=scheme.k_anonymity,
        event=event,
        result=result,
        reason=reason,
        summary=evaluation.summary(
            result.estimate, str(get_locale()), event_name=event.name,
            last_year_pct=result.last_year_pct,
        ) if result else None,
        chart=chart,
        chart_size=(CHART_W, CHART_H, BASE_Y),
        replica_lag=lag,
    )
