"""The social tariff for the municipality's social service (admins): its settings,
its budget, one-time entitlement codes to hand out, and its take-up in aggregate.

No page here names a wallet, a person or a reason: codes are downloaded once
(only their hashes are kept) and the take-up passes the privacy rules (below k
entitled wallets it is hidden).
"""

from __future__ import annotations

import csv
import io
from typing import Any
from zoneinfo import ZoneInfo

from flask import redirect, request, url_for
from flask_babel import gettext as _

from loyalty.errors import InvalidInput
from loyalty.infra.db import utcnow
from loyalty.money import social
from loyalty.web import attachment, db, i18n, public_url
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, bp, current_scheme, render
from municipality_dashboard.grant_forms import SocialCodesForm, SocialFundForm, SocialSettingsForm


def _page(status: int = 200, **forms: Any) -> Any:
    scheme = current_scheme()
    today = utcnow().astimezone(ZoneInfo(scheme.timezone)).date()
    settings = forms.pop("settings", None) or SocialSettingsForm(
        monthly=scheme.social_monthly_cents / 100,
        multiplier=scheme.social_multiplier_pct / 100,
    )
    return render(
        "social.html",
        status,
        scheme=scheme,
        take_up=social.take_up(db(), scheme, today),
        settings=settings,
        fund=forms.pop("fund", None) or SocialFundForm(),
        codes=forms.pop("codes", None) or SocialCodesForm(),
        done=request.args.get("done"),
        k=scheme.k_anonymity,
    )


@bp.get("/social-tariff")
@staff_required(*ADMIN)
def social_page() -> Any:
    return _page()


@bp.post("/social-tariff/settings")
@staff_required(*ADMIN)
def social_settings() -> Any:
    form = SocialSettingsForm()
    if not form.validate_on_submit():
        return _page(422, settings=form)
    try:
        social.configure(
            db(), current_scheme(),
            monthly_cents=int(round(form.monthly.data * 100)),
            multiplier_pct=social.multiplier_pct(form.multiplier.data),
            by=current_staff().user, now=utcnow(),
        )
    except InvalidInput:
        form.multiplier.errors = [_("Check this value.")]
        return _page(422, settings=form)
    return redirect(url_for("dashboard.social_page", done="settings"), 303)


@bp.post("/social-tariff/budget")
@staff_required(*ADMIN)
def social_fund() -> Any:
    form = SocialFundForm()
    if not form.validate_on_submit():
        return _page(422, fund=form)
    social.fund(db(), current_scheme(), int(round(form.amount.data * 100)),
                by=current_staff().user, now=utcnow())
    return redirect(url_for("dashboard.social_page", done="budget"), 303)


@bp.post("/social-tariff/codes")
@staff_required(*ADMIN)
def social_codes() -> Any:
    """One-time entitlement codes as a CSV to print; shown once."""
    form = SocialCodesForm()
    if not form.validate_on_submit():
        return _page(422, codes=form)
    scheme = current_scheme()
    now = utcnow()
    try:
        issued = social.issue_codes(
            db(), scheme, form.count.data or 0, form.until.data, by=current_staff().user,
            today=now.astimezone(ZoneInfo(scheme.timezone)).date(), now=now,
        )
    except InvalidInput:
        form.until.errors = [_("The date cannot be in the past.")]
        return _page(422, codes=form)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("code"), _("entitled until"), _("where to enter it")])
    until = i18n.long_day(form.until.data)
    where = public_url("/social-tariff")  # the wallet's page (consumer_web.social)
    for code in issued:
        writer.writerow([code, until, where])
    return attachment(out.getvalue(), "text/csv; charset=utf-8", "social-tariff-codes.csv")
