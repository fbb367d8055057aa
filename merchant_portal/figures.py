"""The shop owner's figures: today and this month, the history, the shop's own statistics."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_day_names
from flask import current_app, render_template, request, url_for
from flask_babel import format_percent, get_locale
from flask_babel import gettext as _

from loyalty.infra import csv_cells
from loyalty.infra.db import utcnow
from loyalty.models import Role, Scheme
from loyalty.shops import figures as merchant_figures
from loyalty.shops.figures import EARN, Entry
from loyalty.web import db
from loyalty.web.signin import staff_required
from merchant_portal.common import bp, current_merchant

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# Exactly these columns: nothing that leads to a wallet (no ids, codes or pseudonyms).
CSV_COLUMNS = ["date", "time", "kind", "sale_amount_eur", "points", "discount_eur"]


class BadRange(ValueError):
    pass


def _day(name: str) -> date | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    if not ISO_DATE.fullmatch(value):
        raise BadRange(name)
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise BadRange(name) from error


def _range() -> tuple[date | None, date | None]:
    """The ?from= and ?to= local days, both optional. Raises BadRange."""
    first, last = _day("from"), _day("to")
    if first and last and last < first:
        raise BadRange("to")
    return first, last


def _weekday_names() -> list[str]:
    names = get_day_names("wide", locale=str(get_locale()))
    return [names[i] for i in range(7)]


@bp.get("/figures")
@staff_required(Role.MERCHANT_OWNER)
def figures() -> Any:
    """Today and this month, the history page by page, and the shop's own statistics."""
    session = db()
    merchant = current_merchant()
    scheme = session.get_one(Scheme, merchant.scheme_id)
    now = utcnow()
    range_error = None
    try:
        first, last = _range()
    except BadRange:
        range_error = _(
            "Choose a start date and an end date (YYYY-MM-DD), the start not after the end."
        )
        first = last = None
    page = request.args.get("page", 1, type=int) or 1
    returning = merchant_figures.returning_shoppers(session, merchant, now)
    response = current_app.make_response(
        (
            render_template(
                "merchant_portal/figures.html",
                merchant=merchant,
                scheme=scheme,
                overview=merchant_figures.overview(session, merchant, now),
                history=merchant_figures.history(
                    session, merchant, first=first, last=last, page=page
                ),
                first=first,
                last=last,
                range_error=range_error,
                returning=returning,
                stats_since=merchant_figures.local_start(
                    returning.since, ZoneInfo(scheme.timezone)
                ),
                returning_share=(
                    format_percent(returning.share) if returning.share is not None else None
                ),
                hours=merchant_figures.busy_hours(session, merchant, now),
                weekdays=_weekday_names(),
                EARN=EARN,
                page_url=page_url,
            ),
            400 if range_error else 200,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _euros(cents: int | None) -> str:
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _csv(entries: list[Entry], tz: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv_cells.Writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        local = entry.at.astimezone(tz)
        writer.writerow(
            [
                local.date().isoformat(),
                local.strftime("%H:%M:%S"),
                entry.kind,
                _euros(entry.sale_amount_cents),
                entry.points,
                _euros(entry.discount_cents),
            ]
        )
    return out.getvalue()


@bp.get("/figures.csv")
@staff_required(Role.MERCHANT_OWNER)
def figures_csv() -> Any:
    """The history of ?from= to ?to= (local days, both included; either may be left out)."""
    try:
        first, last = _range()
    except BadRange:
        return current_app.response_class(
            "from and to must be dates as YYYY-MM-DD, from not after to\n",
            status=400,
            mimetype="text/plain",
        )
    session = db()
    merchant = current_merchant()
    scheme = session.get_one(Scheme, merchant.scheme_id)
    entries = list(merchant_figures.all_entries(session, merchant, first, last))
    name = "-".join(
        [
            "lokaal-sparen",
            str(merchant.id),
            first.isoformat() if first else "begin",
            last.isoformat() if last else "now",
        ]
    )
    response = current_app.response_class(
        _csv(entries, ZoneInfo(scheme.timezone)), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def page_url(page: int, first: date | None, last: date | None) -> str:
    """The figures page at another history page, keeping the chosen dates."""
    args: dict[str, Any] = {"page": page}
    if first:
        args["from"] = first.isoformat()
    if last:
        args["to"] = last.isoformat()
    return url_for("portal.figures", **args) + "#history"
