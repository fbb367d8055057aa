"""Dashboard page of the grant programmes: take-up and remaining budget, a new
grant, and the one-time codes of a grant for holders of a code (a CSV to print)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, redirect, url_for
from flask_babel import gettext as _

from loyalty.errors import InvalidInput, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import Grant, GrantWho, Scheme
from loyalty.money import grants
from loyalty.web import attachment, db, i18n, public_url
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, STAFF, bp, current_scheme, render
from municipality_dashboard.grant_forms import CodesForm, GrantForm


def _claim_url(grant_id: int) -> str:
    return public_url(f"/g/{grant_id}")


def _page(form: GrantForm | None = None, status: int = 200) -> Any:
    scheme = current_scheme()
    session = db()
    found = grants.list_grants(session, scheme.id)
    if form is None:
        form = _grant_form(scheme)
    return render(
        "grants.html",
        status,
        found=found,
        day=i18n.long_date,
        claim_url=_claim_url,
        form=form,
        codes_form=CodesForm(),
        code_counts={f.grant.id: grants.code_counts(session, f.grant) for f in found
                     if f.grant.who == GrantWho.CODE},
        who_label=_who_label,
        is_admin=current_staff().user.role in ADMIN,
    )


def _who_label(grant: Grant) -> str:
    if grant.who == GrantWho.CODE:
        return _("Holders of a code")
    if grant.who == GrantWho.VILLAGES:
        return _("Residents of %(villages)s", villages=", ".join(grant.villages or []))
    return _("Anyone with the link")


def _grant_form(scheme: Scheme) -> GrantForm:
    form = GrantForm()
    form.villages.choices = [(v, v) for v in scheme.villages or []]
    return form


@bp.get("/grants")
@staff_required(*STAFF)
def grants_page() -> Any:
    """Every grant programme with its claims, what it granted and what is left."""
    return _page()


def _codes_csv(grant: Grant, issued: list[str]) -> str:
    """One row per code, with what the letter handed out with it needs to say."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("code"), _("grant"), _("amount"), _("link to claim"), _("last day")])
    last_day = i18n.long_date(grant.ends_at - timedelta(seconds=1))
    for code in issued:
        writer.writerow([code, grant.name, i18n.euro(grant.amount_cents), _claim_url(grant.id),
                         last_day])
    return out.getvalue()


def _codes_download(grant: Grant, issued: list[str]) -> Any:
    return attachment(_codes_csv(grant, issued), "text/csv; charset=utf-8",
                      f"grant-{grant.id}-codes.csv")


@bp.post("/grants")
@staff_required(*ADMIN)
def new_grant() -> Any:
    """Create a grant (audited); for holders of a code, the answer is its codes' CSV."""
    scheme = current_scheme()
    form = _grant_form(scheme)
    if not form.validate_on_submit():
        return _page(form, 422)
    zone = ZoneInfo(scheme.timezone)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)

    session = db()
    user = current_staff().user
    now = utcnow()
    try:
        grant = grants.create_grant(
            session, scheme,
            name=form.name.data or "",
            amount_cents=int(round(form.amount.data * 100)),
            budget_cents=int(round(form.budget.data * 100)),
            starts_at=midnight(form.starts_on.data),
            ends_at=midnight(form.ends_on.data + timedelta(days=1)),
            who=form.who.data or GrantWho.ANYONE.value,
            villages=form.villages.data if form.who.data == GrantWho.VILLAGES else [],
            now=now,
            created_by=user.id,
        )
    except InvalidInput as error:
        field = {"invalid_period": form.ends_on, "invalid_budget": form.budget,
                 "invalid_amount": form.amount, "invalid_villages": form.villages}.get(
                     error.code or "", form.name)
        field.errors = [{
            "invalid_period": _("A grant must end after today and after its start."),
            "invalid_budget": _("The budget must pay at least one person."),
        }.get(error.code or "", _("Check this value."))]
        return _page(form, 422)
    if grant.who == GrantWho.CODE:
        return _codes_download(
            grant, grants.issue_codes(session, grant, form.codes.data or 0, now, issued_by=user))
    return redirect(url_for("dashboard.grants_page"), 303)


@bp.post("/grants/<int:grant_id>/codes")
@staff_required(*ADMIN)
def grant_codes(grant_id: int) -> Any:
    """More one-time codes of a grant for holders of a code, as a CSV to print.
    Shown once: only their hashes are kept."""
    session = db()
    try:
        grant = grants.get_grant(session, current_scheme().id, grant_id)
    except NotFound:
        abort(404)
    form = CodesForm()
    if grant.who != GrantWho.CODE or not form.validate_on_submit():
        return _page(status=422)
    issued = grants.issue_codes(session, grant, form.count.data or 0, utcnow(),
                                issued_by=current_staff().user)
    return _codes_download(grant, issued)
