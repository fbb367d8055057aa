"""The dashboard's overview, and the shops with their applications to decide on."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import abort, redirect, url_for
from flask_babel import format_date, get_locale, gettext
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.orm import Session

from loyalty.analytics import catalog, periods, report_kit, rollups
from loyalty.earning import campaigns
from loyalty.models import (
    AccountKind,
    FlagStatus,
    FraudFlag,
    Merchant,
    MerchantStatus,
    Scheme,
)
from loyalty.money import accounts, ledger
from loyalty.shops import onboarding
from loyalty.town import sectors
from loyalty.web import charts, confirm, db, i18n
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, STAFF, bp, current_scheme, render
from municipality_dashboard.forms import ActionForm


@bp.get("/")
@staff_required(*STAFF)
def home() -> Any:
    """The town at a glance: last month's spending, points outstanding, what needs doing."""
    scheme = current_scheme()
    session = db()
    counts = dict(
        session.execute(
            sa.select(Merchant.status, sa.func.count())
            .where(Merchant.scheme_id == scheme.id)
            .group_by(Merchant.status)
        ).all()
    )
    rollups.refresh_if_pending(session, scheme)
    period = periods.parse(None, None, report_kit.today_local(scheme))
    # Through the report catalogue, so the privacy rules apply here too.
    spending = catalog.build(session, scheme, "sectors", period, str(get_locale() or "nl"))
    trend = _trend(session, scheme, period)
    liability = accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY)
    running = [
        figures
        for figures in campaigns.list_campaigns(session, scheme.id)
        if figures.status == campaigns.Status.ACTIVE
    ]
    open_flags = session.scalar(
        sa.select(sa.func.count())
        .select_from(FraudFlag)
        .where(FraudFlag.scheme_id == scheme.id, FraudFlag.status == FlagStatus.OPEN)
    )
    return render(
        "home.html",
        scheme=scheme,
        counts=counts,
        period=period,
        month=format_date(period.start, "MMMM y"),
        total=spending.public_total(),
        k=spending.k,
        liability_cents=ledger.balance(session, liability.id),
        running=running,
        open_flags=open_flags or 0,
        trend=trend,
    )


TREND_MONTHS = 12


def _trend(session: Session, scheme: Scheme, last: periods.Period) -> Markup | None:
    """Spending per month over the last year up to ``last``, as a line (hidden months
    break it), through the report catalogue so that its privacy rules apply."""
    start = last.start - relativedelta(months=TREND_MONTHS - 1)
    lang = str(get_locale() or "nl")
    report = catalog.build(session, scheme, "active-shops",
                           periods.Period(start, last.end), lang)
    if not report.rows:
        return None
    items = [(i18n.short_month(cell.key), cell.amount_cents) for cell in report.rows]
    svg = charts.line(
        "chart-trend", gettext("Spending per month"),
        gettext("Spending with points per month, from %(start)s to %(end)s.",
                start=i18n.month(report.rows[0].key), end=i18n.month(report.rows[-1].key)),
        items, lambda value: i18n.euro(int(value)), gettext("hidden for privacy"),
    )
    # charts.py escapes every text it writes.
    return Markup(svg)  # noqa: S704  # nosec B704


@bp.get("/shops")
@staff_required(*ADMIN)
def shops() -> Any:
    scheme = current_scheme()
    lang = str(get_locale())
    merchants = db().scalars(
        sa.select(Merchant).where(Merchant.scheme_id == scheme.id).order_by(Merchant.name)
    ).all()
    return render(
        "shops.html",
        pending=onboarding.pending(db(), scheme.id),
        merchants=[m for m in merchants if m.status != MerchantStatus.PENDING],
        sector_label=lambda code: sectors.short_label(code, lang),
        form=ActionForm(),
    )


def _shop_question(decision: str, shop: str) -> confirm.Question:
    back = url_for("dashboard.shops")
    if decision == "refuse":
        return confirm.Question(
            _("Refuse %(shop)s?", shop=shop),
            _("The application is refused: the shop cannot give points. It may apply again "
              "later."),
            _("Yes, refuse"), back)
    return confirm.Question(
        _("Suspend %(shop)s?", shop=shop),
        _("The shop can no longer give points or take spend codes: its open sales are "
          "cancelled and its till keys stop working at once. Points already given stay "
          "in the shoppers' wallets. You can approve the shop again later."),
        _("Yes, suspend"), back)


@bp.post("/shops/<int:merchant_id>/<decision>")
@staff_required(*ADMIN)
def decide(merchant_id: int, decision: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    statuses = {
        "approve": MerchantStatus.APPROVED,
        "refuse": MerchantStatus.REFUSED,
        "suspend": MerchantStatus.SUSPENDED,
    }
    merchant = db().get(Merchant, merchant_id)
    # Another municipality's shop does not exist, as far as this one can tell.
    if decision not in statuses or merchant is None or merchant.scheme_id != current_scheme().id:
        abort(404)
    if decision != "approve" and not confirm.confirmed():
        return confirm.ask(render, _shop_question(decision, merchant.name))
    onboarding.decide(db(), merchant, statuses[decision], current_staff().user)
    return redirect(url_for("dashboard.shops"), 303)
