"""Open data: a scheme's released statistics, published when the municipality
chooses to (loyalty.analytics.open_data): a page that explains the method, a CSV
and a JSON file per table, and a DCAT-AP catalogue for the open-data portals."""

from __future__ import annotations

import io
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, current_app, jsonify, request
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l

from consumer_web.common import bp, current_language, page
from loyalty.analytics import areas, open_data, release
from loyalty.analytics.rollups import NO_AGE
from loyalty.infra import csv_cells
from loyalty.models import Scheme
from loyalty.town import sectors
from loyalty.web import db, public_url

TITLES = {
    "total": _l("Purchases and amounts per month"),
    "sector_group": _l("Per sector group"),
    "home_area": _l("Per home area of the shoppers"),
    "age_band": _l("Per age band of the shoppers"),
    "hour": _l("Per hour of the day"),
    "weekday": _l("Per day of the week"),
}
WEEKDAYS = [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday")]
# Published files may be cached for a while: a released month never changes.
CACHE = "public, max-age=3600"


def _scheme(slug: str) -> Scheme:
    scheme = db().scalar(sa.select(Scheme).where(Scheme.slug == slug))
    if scheme is None or not open_data.published(scheme):
        abort(404)
    return scheme


def label(table: str, key: str, lang: str) -> str:
    """A row's key in words, in the reader's language."""
    if table == "total":
        return gettext("All purchases")
    if table == "sector_group":
        return f"{key} {sectors.short_label(key, lang)}"
    if table == "home_area":
        if key == release.OTHER_AREA:
            return gettext("Elsewhere")
        if key == areas.UNKNOWN:
            return gettext("Not given")
        return areas.area_label(key, lang)
    if table == "age_band":
        return gettext("Not given") if key == NO_AGE else key
    if table == "hour":
        return f"{int(key):02d}:00"
    return str(WEEKDAYS[int(key)])


def _base(scheme: Scheme) -> str:
    return public_url(f"/open-data/{scheme.slug}")


@bp.get("/open-data/<slug>")
def open_data_page(slug: str) -> Response:
    """What the scheme publishes and how it was made, with links to the files."""
    scheme = _scheme(slug)
    session = db()
    params = release.parameters(scheme)
    response = page(
        "open_data.html",
        scheme=scheme,
        titles=TITLES,
        coverage=open_data.coverage(session, scheme.id),
        params=params,
        license=open_data.LICENSE,
    )
    response.headers["Cache-Control"] = CACHE
    return response


def _rows(scheme: Scheme, table: str) -> tuple[list[dict[str, Any]], str]:
    if table not in open_data.TABLES:
        abort(404)
    lang = request.args.get("lang", current_language())
    if lang not in open_data.LANGUAGES:
        lang = "nl"
    with force_locale(lang):
        rows = [{**row.as_dict(), "label": label(table, row.key, lang)}
                for row in open_data.table_rows(db(), scheme, table)]
    return rows, lang


@bp.get("/open-data/<slug>/<table>.csv")
def open_data_csv(slug: str, table: str) -> Response:
    """One table as CSV (comma-separated, UTF-8, amounts in euro cents)."""
    rows, _lang = _rows(_scheme(slug), table)
    out = io.StringIO()
    columns = ["month", "key", "label", *open_data.COLUMNS[2:]]
    # Formula-safe cells: a village or cluster is named by the municipality.
    writer = csv_cells.Writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[name] is None else
                         str(row[name]).lower() if isinstance(row[name], bool)
                         else row[name] for name in columns])
    response = current_app.response_class(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'inline; filename="{slug}-{table}.csv"'
    response.headers["Cache-Control"] = CACHE
    return response


@bp.get("/open-data/<slug>/<table>.json")
def open_data_json(slug: str, table: str) -> Response:
    """One table as JSON: its rows with the privacy parameters they were made under."""
    scheme = _scheme(slug)
    rows, lang = _rows(scheme, table)
    params = release.parameters(scheme)
    with force_locale(lang):
        title = str(TITLES[table])
    response = jsonify({
        "scheme": scheme.slug,
        "table": table,
        "title": title,
        "k": scheme.k_anonymity,
        "epsilon_per_day": params.epsilon_per_day,
        "max_purchases_per_shopper_per_day": params.max_purchases,
        "max_cents_per_shopper_per_day": params.max_cents,
        "license": open_data.LICENSE,
        "rows": rows,
    })
    response.headers["Cache-Control"] = CACHE
    return response


def _texts(message: Any) -> open_data.Texts:
    values = {}
    for lang in open_data.LANGUAGES:
        with force_locale(lang):
            values[lang] = str(message)
    return open_data.Texts(**values)


@bp.get("/open-data/<slug>/catalog.jsonld")
def open_data_catalog(slug: str) -> Response:
    """The scheme's DCAT-AP catalogue (JSON-LD) for harvesting by open-data portals."""
    scheme = _scheme(slug)
    titles = {table: _texts(title) for table, title in TITLES.items()}
    for table, texts in titles.items():
        titles[table] = open_data.Texts(
            **{lang: f"{scheme.name}: {getattr(texts, lang)}" for lang in open_data.LANGUAGES})
    catalog = open_data.catalog(
        scheme, _base(scheme), titles,
        _texts(_l("Lokaal Sparen: released statistics of local spending")),
        _texts(_l("Monthly sums of the purchases collected with the local savings scheme, "
                  "made from daily figures with calibrated noise (differential privacy); "
                  "figures of fewer than k purchases and sector groups of fewer than three "
                  "shops are hidden.")),
        open_data.coverage(db(), scheme.id),
    )
    response = jsonify(catalog)
    response.mimetype = "application/ld+json"
    response.headers["Cache-Control"] = CACHE
    return response
