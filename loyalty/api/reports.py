"""Anonymised reports for the municipality."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from loyalty.analytics import reports
from loyalty.api.auth import MUNICIPALITY_STAFF, require_staff
from loyalty.api.common import AUTH
from loyalty.api.schemas import SpendingQuery, SpendingReport
from loyalty.errors import InvalidInput
from loyalty.models import Scheme
from loyalty.web import db

blp = Blueprint("reports", __name__, description="Anonymised spending reports")


@blp.route("/reports/spending")
class SpendingView(MethodView):
    @blp.arguments(SpendingQuery(), location="query")
    @blp.response(200, SpendingReport)
    @blp.doc(security=AUTH)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Spending by sector, shop, home postcode, hour or weekday, privacy rules applied."""
        user = require_staff(*MUNICIPALITY_STAFF)
        start, end = query.get("from_"), query.get("to")
        if start and end and start > end:
            raise InvalidInput("'from' is after 'to'", code="invalid_period")
        session = db()
        scheme = session.get_one(Scheme, user.scheme_id)
        cells = reports.spending(session, scheme, query["by"], start, end)
        return {
            "rows": [asdict(c) for c in cells],
            "k": scheme.k_anonymity,
            "definition": reports.SPENDING_DEFINITION,
        }
