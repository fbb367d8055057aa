"""Monthly settlement in the dashboard (municipality admin): settle a month,
the locked months, each shop's row, statements and the SEPA file."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Regexp

from loyalty.errors import LoyaltyError, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import Merchant, Scheme
from loyalty.money.settlement import monthly, payment_requests, payouts, periods, statements
from loyalty.web import attachment, db, i18n
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, bp, current_scheme, render


class SettleForm(FlaskForm):
    period = StringField(
        _l("Month to settle"),
        validators=[
            DataRequired(_l("Type the month, such as 2026-11.")),
            Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", message=_l("Type the month as year-month, "
                                                           "such as 2026-11.")),
        ],
    )


def _last_month(scheme: Scheme) -> str:
    today = utcnow().astimezone(ZoneInfo(scheme.timezone))
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _due_month(scheme: Scheme) -> str:
    """The month the form offers: the one due next, or else last month."""
    due = monthly.next_period(db(), scheme)
    last = _last_month(scheme)
    return due if due is not None and due <= last else last


def _error_message(error: LoyaltyError) -> str:
    if error.code == "earlier_period_unsettled":
        due = monthly.next_period(db(), current_scheme()) or ""
        return _("Months are settled one by one, from the first activity: settle "
                 "%(month)s first.", month=i18n.month(due))
    return {
        "period_not_over": _("This month is not over yet."),
        "later_period_settled": _("A later month is already settled: months are settled in "
                                  "order."),
        "scheme_bank_missing": _("The municipality's bank account is not set, so the SEPA "
                                 "file cannot be made. Set it with “loyalty scheme-bank”."),
        "invalid_period": _("Type the month as year-month, such as 2026-11."),
    }.get(error.code, _("This month cannot be settled."))


def _list_page(form: SettleForm, status: int = 200) -> Any:
    scheme = current_scheme()
    rows = []
    for locked in monthly.settlements_of(db(), scheme.id):
        lines = monthly.lines_of(db(), locked.id)
        rows.append({
            "settlement": locked,
            "shops": len(lines),
            "payouts": sum(line.payout_cents for line in lines),
            "collect": sum(line.collect_cents for line in lines),
        })
    due = monthly.next_period(db(), scheme)
    return render("settlements.html", status, form=form, rows=rows, due=due,
                  last_month=_last_month(scheme))


@bp.get("/settlements")
@staff_required(*ADMIN)
def settlements() -> Any:
    form = SettleForm(formdata=None, period=_due_month(current_scheme()))
    return _list_page(form)


@bp.post("/settlements")
@staff_required(*ADMIN)
def settle() -> Any:
    """Lock a month: the same as `loyalty settle`; a locked month stays as it is."""
    form = SettleForm()
    if not form.validate_on_submit():
        return _list_page(form, 422)
    period = form.period.data or ""
    stripe = payouts.stripe_settings(current_app.config)
    try:
        result = monthly.settle(
            db(), current_scheme(), period, utcnow(), stripe_payouts=stripe is not None,
            actor=current_staff().user,
        )
    except LoyaltyError as error:
        form.period.errors = [_error_message(error)]
        return _list_page(form, 422)
    payouts.pay_by_stripe(db(), result.settlement, stripe)
    payment_requests.request_payments(db(), result.settlement, current_app.config, utcnow())
    done = "settled" if result.created else "already"
    return redirect(url_for("dashboard.settlement_detail", period=period, done=done), 303)


def _locked(period: str) -> Any:
    try:
        return monthly.get(db(), current_scheme().id, period)
    except LoyaltyError:
        abort(404)


@bp.get("/settlements/<period>")
@staff_required(*ADMIN)
def settlement_detail(period: str) -> Any:
    locked = _locked(period)
    lines = monthly.lines_of(db(), locked.id)
    shops = db().execute(
        sa.select(Merchant.id, Merchant.name, Merchant.town_service).where(
            Merchant.id.in_([line.merchant_id for line in lines])
        )
    ).all()
    return render(
        "settlement.html",
        settlement=locked,
        lines=lines,
        names={mid: name for mid, name, _ in shops},
        town_services={mid for mid, _, town in shops if town},
        # The credit (euros) each shop took, shown apart from the points' value.
        taken=monthly.euros_redeemed(db(), locked.id),
        reference=periods.format_reference,
        done=request.args.get("done"),
    )


@bp.get("/settlements/<period>/sepa.xml")
@staff_required(*ADMIN)
def settlement_sepa(period: str) -> Any:
    locked = _locked(period)
    if locked.sepa_xml is None:
        abort(404)
    return attachment(locked.sepa_xml, "application/xml", f"sepa-{locked.period}.xml")


@bp.get("/settlements/<period>/statements/<int:merchant_id>.<fmt>")
@staff_required(*ADMIN)
def settlement_statement(period: str, merchant_id: int, fmt: str) -> Any:
    locked = _locked(period)
    if fmt not in ("pdf", "csv"):
        abort(404)
    try:
        st = statements.statement(db(), locked, merchant_id)
    except NotFound:
        abort(404)
    name = f"statement-{period}-{merchant_id}.{fmt}"
    if fmt == "pdf":
        pdf = statements.statement_pdf(st, _, i18n.babel_locale())
        return attachment(pdf, "application/pdf", name)
    return attachment(statements.statement_csv(st), "text/csv", name)
