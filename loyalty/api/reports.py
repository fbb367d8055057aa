"""Anonymised reports for the municipality."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import Blueprint

from loyalty.analytics import catalog, exports, periods, release, report_kit, reports, rollups
from loyalty.api.auth import MUNICIPALITY_STAFF, require_staff
from loyalty.api.common import AUTH
from loyalty.api.schemas import NamedReport, ReportQuery, SpendingQuery, SpendingReport
from loyalty.errors import InvalidInput, NotFound
from loyalty.models import Scheme
from loyalty.web import db, replica, writes

blp = Blueprint("reports", __name__, description="Anonymised spending reports")


@blp.route("/reports/spending")
class SpendingView(MethodView):
    @writes  # folds new events into the rollups first (rule 2 reads them), when there are any
    @blp.arguments(SpendingQuery(), location="query")
    @blp.response(200, SpendingReport)
    @blp.doc(security=AUTH)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Spending by sector, shop, home area, hour or weekday, privacy rules applied.

        Sums of released daily cells (with a 95% ``margin``) up to ``released_until``,
        for any dates; by=merchant too (each shop's released cells, ``shoppers`` null).
        """
        user = require_staff(*MUNICIPALITY_STAFF)
        start, end = query.get("from_"), query.get("to")
        if start and end and start > end:
            raise InvalidInput("'from' is after 'to'", code="invalid_period")
        scheme = db().get_one(Scheme, user.scheme_id)
        read = replica.read(
            lambda reads: (reports.spending(reads, scheme, query["by"], start, end),
                           release.last_released_day(reads, scheme.id)),
            refresh=lambda primary: rollups.refresh_if_pending(primary, scheme),
        )
        rows, until = read.value
        return {
            "rows": [_spending_row(c) for c in rows],
            "k": scheme.k_anonymity,
            "definition": reports.SPENDING_DEFINITION,
            "released_until": until.isoformat() if until else None,
            **_behind(read),
        }


@blp.route("/reports/<string:name>")
class NamedReportView(MethodView):
    @writes  # folds new events into the rollups first, when there are any
    @blp.arguments(ReportQuery(), location="query")
    @blp.response(200, NamedReport)
    @blp.doc(security=AUTH)
    def get(self, query: dict[str, Any], name: str) -> Any:
        """A dashboard report (sectors, shops, heatmap, weekdays, ...); ``.csv`` for CSV.

        Rows pass the privacy rules; suppressed rows carry null figures.
        """
        user = require_staff(*MUNICIPALITY_STAFF)
        as_csv = name.endswith(".csv")
        name = name.removesuffix(".csv")
        if name not in catalog.CATALOG:
            raise NotFound(f"no report {name!r}", code="unknown_report")
        scheme = db().get_one(Scheme, user.scheme_id)
        period = periods.parse(query.get("from_"), query.get("to"), report_kit.today_local(scheme))
        lang = str(get_locale() or "nl")
        # New sales are folded in on the primary; the report may then be read from a replica.
        read = replica.read(
            lambda reads: catalog.build(reads, scheme, name, period, lang),
            refresh=lambda primary: rollups.refresh_if_pending(primary, scheme),
        )
        report = read.value
        if as_csv:
            response: Response = current_app.response_class(
                exports.as_csv(report), mimetype="text/csv"
            )
            response.headers["Content-Disposition"] = (
                f'attachment; filename="{exports.csv_filename(report)}"'
            )
            return response
        body = exports.as_json(report)
        body["from_"] = body.pop("from")
        body.update(_behind(read))
        return body


def _spending_row(cell: Any) -> dict[str, Any]:
    row = asdict(cell)
    row["margin"] = (
        {"purchases": cell.purchases_margin, "amount_cents": cell.amount_margin_cents}
        if cell.purchases_margin is not None else None
    )
    return row


def _behind(read: replica.Read[Any]) -> dict[str, int | None]:
    """``behind_seconds`` when the figures come from a replica that has not caught
    up: at most that many seconds of the newest sales may be missing (None: unknown)."""
    if not read.from_replica or read.state.caught_up:
        return {}
    lag = read.state.lag
    return {"behind_seconds": None if lag is None else math.ceil(lag.total_seconds())}
