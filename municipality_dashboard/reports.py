"""Report pages: an index, one page per report (period picker, definition, chart,
table with comparisons, privacy rules) and its CSV and JSON exports."""

from __future__ import annotations

import io
import json
import re
import time
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from flask import abort, current_app, request
from flask_babel import get_locale, gettext, ngettext, pgettext
from markupsafe import Markup

from loyalty.analytics import (
    campaign_release,
    catalog,
    exports,
    kinds,
    period_release,
    periods,
    points_reports,
    privacy,
    release,
    report_kit,
    rollups,
    spending_reports,
)
from loyalty.analytics.periods import Period
from loyalty.errors import InvalidInput
from loyalty.infra import csv_cells
from loyalty.web import charts, db, i18n, replica
from loyalty.web.signin import staff_required
from municipality_dashboard.common import STAFF, bp, current_scheme, render

# Labels that reports give as English texts (weekdays, kinds of shopping, points figures):
# the pages show them translated.
TRANSLATED_LABELS = frozenset(
    [*report_kit.WEEKDAYS, *kinds.SHOPPING_KINDS.values(), *points_reports.POINTS_LABELS.values(),
     "Outstanding points today (liability)", spending_reports.OTHER_AREA_LABEL]
)
ORDER = [
    "sectors", "shops", "heatmap", "weekdays", "busiest-days", "daily", "home-areas",
    "age-bands", "frequency", "cross-shopping", "sector-pairs", "shopping-kinds",
    "points", "points-flow", "active-shops", "sector-classes",
]


# Labels the reports build in English or ISO: a day ("2026-11-01") and a weekday
# with an hour ("Monday 07:00").
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
WEEKDAY_HOUR = re.compile(r"(?P<day>[A-Z][a-z]+day) (?P<hour>\d{2}:00)")


def _label(text: str | None) -> str:
    """A row's label in the reader's language and formats."""
    if text is None:
        return ""
    suffix = " (village not given)"
    if text.endswith(suffix):  # the scheme's own municipality, from the postcode only
        return f"{text.removesuffix(suffix)} ({gettext('village not given')})"
    if ISO_DAY.fullmatch(text):
        return i18n.day(date.fromisoformat(text))
    if ISO_MONTH.fullmatch(text):
        return i18n.month(text)
    weekday_hour = WEEKDAY_HOUR.fullmatch(text)
    if weekday_hour and weekday_hour["day"] in report_kit.WEEKDAYS:
        return f"{gettext(weekday_hour['day'])} {weekday_hour['hour']}"
    return gettext(text) if text in TRANSLATED_LABELS else text


def _hidden_because(rule: str | None, k: int) -> str:
    """Why a row is hidden, in the words of the privacy rule that hid it."""
    if rule is None:
        return ""
    if rule == "purchases":
        return gettext("hidden: fewer than %(k)s purchases (after noise)", k=k)
    if rule == "shops":
        return gettext("hidden: fewer than 3 shops, or one shop holds most of it")
    if rule == "secondary":
        return gettext("hidden so that another hidden figure cannot be worked out")
    return gettext("hidden: fewer than %(k)s shoppers", k=k)


def _format(kind: str, value: Any) -> str:
    if value is None:
        return "–"
    if kind in ("count", "cents") and value < 0:
        # A released figure with its noise may be below zero (sums stay unbiased);
        # no count or amount can be, so the page shows zero.
        value = 0
    if kind == "cents":
        return i18n.euro(int(value))
    if kind in ("count", "points"):
        return i18n.number(int(value))
    if kind == "pct":
        return i18n.percent_change(float(value))
    return str(value)


def _presets(today: date) -> list[tuple[str, Period]]:
    month = today.replace(day=1)
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return [
        (gettext("Last month"), Period(month - relativedelta(months=1),
                                       month - relativedelta(days=1))),
        (gettext("This month"), Period(month, today)),
        (gettext("Last quarter"), Period(quarter - relativedelta(months=3),
                                         quarter - relativedelta(days=1))),
        (gettext("This year"), Period(date(today.year, 1, 1), today)),
        (gettext("Last year"), Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
    ]


def _dates() -> tuple[date | None, date | None]:
    """The from/to of the query string; InvalidInput for a date that is not a date."""
    out: list[date | None] = []
    for name in ("from", "to"):
        raw = request.args.get(name, "").strip()
        if not raw:
            out.append(None)
            continue
        try:
            out.append(date.fromisoformat(raw))
        except ValueError:
            raise InvalidInput(gettext("Give dates as YYYY-MM-DD."), code="invalid_date") from None
    return out[0], out[1]


@bp.get("/reports")
@staff_required(*STAFF)
def reports_index() -> Any:
    scheme = current_scheme()
    entries = [catalog.CATALOG[name] for name in ORDER if name in catalog.CATALOG]
    return render("reports.html", scheme=scheme, entries=entries,
                   k=scheme.k_anonymity, rules=_rules(scheme.k_anonymity),
                   aligned_note=report_kit.ALIGNED_NOTE)


@bp.get("/privacy")
@staff_required(*STAFF)
def privacy_page() -> Any:
    """How the published figures are protected: the method, the scheme's privacy
    parameters and what this year's released days spent."""
    scheme = current_scheme()
    params = release.current_parameters(db(), scheme)
    year = report_kit.today_local(scheme).year
    spent = release.budget(db(), scheme, year)
    by_campaigns = campaign_release.budget(db(), scheme.id, year)
    by_period = period_release.budget(db(), scheme, year)
    period_params = period_release.parameters(scheme)
    day_cell = (params.purchases_scale, params.amount_scale)
    return render(
        "privacy.html", scheme=scheme, k=scheme.k_anonymity, rules=_rules(scheme.k_anonymity),
        epsilon_day=_decimal(params.epsilon_per_day),
        max_purchases=params.max_purchases, max_amount=i18n.euro(params.max_cents),
        margin_purchases=release.margin(0.0, 1, day_cell[0]),
        margin_amount=i18n.euro(release.margin(0.0, 1, day_cell[1])),
        year=spent.year, days_released=spent.days_released,
        epsilon_spent=_decimal(spent.epsilon_spent), epsilon_year=_decimal(spent.epsilon_year),
        tables=params.tables,
        epsilon_campaign=_decimal(float(scheme.release_campaign_epsilon)),
        campaigns_released=by_campaigns.campaigns,
        epsilon_campaigns=_decimal(by_campaigns.epsilon_spent),
        # All count what someone who shopped every day would have given away.
        epsilon_total=_decimal(spent.epsilon_spent + by_campaigns.epsilon_spent
                               + by_period.epsilon_spent),
        epsilon_period=_decimal(period_params.epsilon_per_period),
        period_tables=period_params.tables,
        margin_shoppers=release.margin(0.0, 1, period_params.scale(1)),
        periods_released=by_period.periods_released,
        epsilon_periods_spent=_decimal(by_period.epsilon_spent),
        epsilon_periods_year=_decimal(by_period.epsilon_year),
        epsilon_total_year=_decimal(spent.epsilon_year + by_period.epsilon_year),
    )


def _decimal(value: float) -> str:
    return i18n.decimal(round(value, 2))


def _margin(kind: str, value: Any, name: str = "purchases") -> str:
    """A released figure's margin in plain words: "± 108 purchases", "± € 1.234,00",
    "± 15 shoppers" (``name``: the column the figure is in)."""
    if value is None:
        return ""
    if kind == "cents":
        return f"± {i18n.euro(int(value))}"
    if name in SHOPPER_COLUMNS:
        return "± " + ngettext("%(figure)s shopper", "%(figure)s shoppers", int(value),
                               figure=i18n.number(int(value)))
    return "± " + ngettext("%(figure)s purchase", "%(figure)s purchases", int(value),
                           figure=i18n.number(int(value)))


MARGINS = {"purchases": "purchases_margin", "amount_cents": "amount_margin_cents",
           # Counts of shoppers of a released period (analytics.period_release).
           "shoppers": "shoppers_margin", "returning": "returning_margin"}
SHOPPER_COLUMNS = ("shoppers", "returning")


def _rules(k: int, released: bool = False) -> list[str]:
    first = (
        gettext("A figure of fewer than %(k)s purchases (after noise) is hidden.", k=k)
        if released else
        gettext("A figure from fewer than %(k)s different shoppers is hidden.", k=k)
    )
    return [
        first,
        gettext("Outside the per-shop report, a figure from fewer than 3 shops, or where one "
                "shop holds more than half of the amount, is hidden."),
        gettext("When only one figure of a table would be hidden, a second one is hidden too, "
                "so that no hidden figure can be worked out from the total."),
        gettext("Exports contain these tables only: never a pseudonym or a single purchase."),
    ]


@bp.get("/reports/<name>")
@staff_required(*STAFF)
def report_page(name: str) -> Any:
    started = time.perf_counter()
    export = None
    for suffix in (".csv", ".json"):
        if name.endswith(suffix):
            name, export = name.removesuffix(suffix), suffix
    if name not in catalog.CATALOG:
        abort(404)
    scheme = current_scheme()
    today = report_kit.today_local(scheme)
    error = None
    try:
        start, end = _dates()
        period = periods.parse(start, end, today)
    except InvalidInput as exc:
        if export:
            abort(400)
        error = exc.message if exc.code == "invalid_date" else {
            "'from' is after 'to'": gettext("The start date is after the end date."),
        }.get(exc.message, gettext("A period spans at most three years."))
        period = periods.parse(None, None, today)
    entry = catalog.CATALOG[name]
    try:
        report_kit.check_aligned(entry, period, today)
    except InvalidInput:
        if export:
            abort(400)
        error = gettext("This report is shown only for a whole calendar month, quarter or "
                        "year that has ended; here is last month.")
        period = periods.parse(None, None, today)
    lang = str(get_locale() or "nl")
    # New sales are folded in on the primary; the report may then be read from a replica.
    read = replica.read(
        lambda reads: catalog.build(reads, scheme, name, period, lang),
        refresh=lambda primary: rollups.refresh_if_pending(primary, scheme),
    )
    report = read.value

    if export == ".csv":
        response = current_app.response_class(_spreadsheet(report, lang),
                                              mimetype="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{exports.csv_filename(report)}"'
        )
        return response
    if export == ".json":
        return current_app.response_class(
            json.dumps(exports.as_json(report), ensure_ascii=False, indent=1),
            mimetype="application/json",
        )

    rows = report.public_rows()
    value_kind = next((c.kind for c in report.columns if c.name == report.value), "count")
    for row, cell in zip(rows, report.rows, strict=True):
        row["display_label"] = _label(cell.label)
        row["hidden_because"] = _hidden_because(cell.hidden_by, report.k)
    chart = _chart(report, rows, value_kind, lang)
    # Rows that are days never meet in another period (1 November is not in
    # October): their comparison columns would be empty, so only the total is compared.
    compare_rows = any(
        row.get(f"{when}_{report.value}") is not None
        for row in rows for when in ("previous", "last_year")
    )
    context = {
        "scheme": scheme,
        "report": report,
        "entry": catalog.CATALOG[name],
        "rows": rows,
        "total": report.public_total(),
        "value_kind": value_kind,
        "value_label": next((c.label for c in report.columns if c.name == report.value),
                            report.value),
        "fmt": _format,
        "margin": _margin,
        "released_until": (i18n.long_day(report.released_until)
                           if report.released_until else None),
        "margins": MARGINS,
        "aligned_note": report_kit.ALIGNED_NOTE,
        "total_margins": _total_margins(report),
        "compare_rows": compare_rows,
        "chart": chart,
        # An aligned report offers only the whole closed periods it answers for.
        "presets": [(label, p) for label, p in _presets(today)
                    if not entry.aligned or (p.grain() is not None and p.end < today)],
        "error": error,
        "rules": _rules(report.k, report.released),
        "previous": report.period.previous(),
        "last_year": report.period.last_year(),
        "translate_label": _label,
        "replica_lag": read.lag_notice,
    }
    page = render("report.html", status=400 if error else 200, **context)
    page.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return page


def _total_margins(report: catalog.Report) -> str:
    """The margins of the total (or of the first visible row) in one phrase."""
    cell = report.total if report.total is not None and not report.total.suppressed else next(
        (c for c in report.rows if not c.suppressed and c.purchases_margin is not None), None)
    if cell is None or cell.purchases_margin is None:
        return ""
    return (f"{_margin('count', cell.purchases_margin)}, "
            f"{_margin('cents', cell.amount_margin_cents)}")


def _spreadsheet(report: catalog.Report, lang: str) -> str:
    """The report as the reader's Excel opens it: headings and labels in their
    language, euros (not cents) with their decimal mark, their list separator.
    (The API's CSV stays the machine-readable one of the contract.)"""
    out = io.StringIO()
    writer = csv_cells.SpreadsheetWriter(out, lang)
    value_kind = next((c.kind for c in report.columns if c.name == report.value), "count")

    def figure(kind: str, value: Any) -> str:
        if kind == "cents":
            return writer.euros(value)
        if kind == "pct":
            return writer.number(value, 1)
        return writer.number(value)

    def heading(label: str, kind: str) -> str:
        text = gettext(label)
        return f"{text} (€)" if kind == "cents" else f"{text} (%)" if kind == "pct" else text

    change = pgettext("percentage change of a figure", "Change")
    # Released reports: the 95% margin of each row's noise, beside its figures.
    margins = (
        [gettext("Margin of purchases (±)"), f"{gettext('Margin of amount (±)')} (€)"]
        if report.released else []
    )
    # Counts of shoppers of a released period: their margins.
    shopper_margins = ([c.name for c in report.columns if c.name in SHOPPER_COLUMNS]
                       if report.period_released else [])
    margins += [gettext("Margin of shoppers (±)") if name == "shoppers"
                else gettext("Margin of returning shoppers (±)") for name in shopper_margins]
    writer.writerow([
        *(heading(c.label, c.kind) for c in report.columns),
        heading("Previous period", value_kind), f"{change} (%)",
        heading("Last year", value_kind), f"{change} (%)", *margins, gettext("Hidden"),
    ])
    public = report.public_rows()
    total = report.public_total()
    lines = [(_label(cell.label), row, _hidden_because(cell.hidden_by, report.k))
             for row, cell in zip(public, report.rows, strict=True)]
    if total is not None:
        lines.append((gettext("Total"), total, ""))
    for label, row, hidden in lines:
        writer.writerow([
            *(label if c.name == "label" else figure(c.kind, row.get(c.name))
              for c in report.columns),
            figure(value_kind, row.get(f"previous_{report.value}")),
            figure("pct", row.get("change_previous_pct")),
            figure(value_kind, row.get(f"last_year_{report.value}")),
            figure("pct", row.get("change_last_year_pct")),
            *([figure("count", row.get("purchases_margin")),
               figure("cents", row.get("amount_margin_cents"))] if report.released else []),
            *(figure("count", row.get(MARGINS[name])) for name in shopper_margins),
            hidden,
        ])
    return out.getvalue()


def _chart(report: catalog.Report, rows: list[dict[str, Any]], kind: str, lang: str) -> Markup:
    hidden = gettext("hidden for privacy")
    title = gettext(report.title)
    desc = gettext("%(figure)s per row, from %(start)s to %(end)s; the table beside it has "
                   "every figure.", figure=gettext(next(
                       (c.label for c in report.columns if c.name == report.value),
                       report.value)),
                   start=i18n.long_day(report.period.start), end=i18n.long_day(report.period.end))

    def fmt(value: float) -> str:
        return _format(kind, value)

    visible_value = [(row["display_label"], row.get(report.value)) for row in rows]
    if report.chart == "heatmap":
        hours = sorted({int(r["key"].split("-")[1]) for r in rows})
        values: dict[tuple[int, int], Any] = {}
        for r in rows:
            weekday, hour = (int(p) for p in r["key"].split("-"))
            values[(weekday, hours.index(hour))] = r.get(report.value)
        svg = charts.heatmap(
            f"chart-{report.name}", title, desc,
            [gettext(day) for day in report_kit.WEEKDAYS], [f"{h:02d}" for h in hours],
            values, hidden,
        )
    elif report.chart == "lines":
        svg = charts.line(f"chart-{report.name}", title, desc, visible_value, fmt, hidden)
    else:
        svg = charts.bars(f"chart-{report.name}", title, desc, visible_value, fmt, hidden)
    # charts.py escapes every text it writes.
    return Markup(svg)  # noqa: S704  # nosec B704


__all__ = ["privacy", "report_page", "reports_index"]
