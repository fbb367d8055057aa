"""Dashboard pages. This first part: the overview and deciding on shop applications."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, url_for
from flask_babel import format_date, get_locale
from flask_wtf import FlaskForm

from loyalty.analytics import catalog, periods, rollups
from loyalty.earning import campaigns
from loyalty.models import (
    AccountKind,
    FlagStatus,
    FraudFlag,
    Merchant,
    MerchantStatus,
    Role,
    Scheme,
)
from loyalty.money import accounts, ledger
from loyalty.shops import onboarding
from loyalty.town import sectors
from loyalty.web import db, personal_page
from loyalty.web.signin import current_staff, staff_required

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
STAFF = (Role.MUNICIPALITY_ADMIN, Role.MUNICIPALITY_ANALYST)
ADMIN = (Role.MUNICIPALITY_ADMIN,)


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def _render(template: str, status: int = 200, **context: Any) -> Any:
    return personal_page(f"municipality_dashboard/{template}", status, **context)


def _scheme() -> Scheme:
    return db().get_one(Scheme, current_staff().user.scheme_id)


@bp.get("/")
@staff_required(*STAFF)
def home() -> Any:
    """The town at a glance: last month's spending, points outstanding, what needs doing."""
    scheme = _scheme()
    session = db()
    counts = dict(
        session.execute(
            sa.select(Merchant.status, sa.func.count())
            .where(Merchant.scheme_id == scheme.id)
            .group_by(Merchant.status)
        ).all()
    )
    rollups.refresh_if_pending(session, scheme)
    period = periods.parse(None, None, catalog.today_local(scheme))
    # Through the report catalogue, so the privacy rules apply here too.
    spending = catalog.build(session, scheme, "sectors", period, str(get_locale() or "nl"))
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
    return _render(
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
    )


@bp.get("/shops")
@staff_required(*ADMIN)
def shops() -> Any:
    scheme = _scheme()
    lang = str(get_locale())
    merchants = db().scalars(
        sa.select(Merchant).where(Merchant.scheme_id == scheme.id).order_by(Merchant.name)
    ).all()
    return _render(
        "shops.html",
        pending=onboarding.pending(db(), scheme.id),
        merchants=[m for m in merchants if m.status != MerchantStatus.PENDING],
        sector_label=lambda code: sectors.label(code, lang),
        form=ActionForm(),
    )


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
    if decision not in statuses or merchant is None or merchant.scheme_id != _scheme().id:
        abort(404)
    onboarding.decide(db(), merchant, statuses[decision], current_staff().user)
    return redirect(url_for("dashboard.shops"), 303)
