"""Reports as documents: the JSON body and the CSV file, from the public rows only."""

from __future__ import annotations

import io
from typing import Any

from loyalty.analytics import privacy
from loyalty.analytics.report_kit import Report
from loyalty.infra import csv_cells


def as_json(report: Report) -> dict[str, Any]:
    """The report's JSON body (API contract): rows, k, definition, period, columns, total."""
    return {
        "name": report.name,
        "title": report.title,
        "definition": report.definition,
        "k": report.k,
        "from": report.period.start.isoformat(),
        "to": report.period.end.isoformat(),
        "previous_from": report.period.previous().start.isoformat(),
        "previous_to": report.period.previous().end.isoformat(),
        "value": report.value,
        "columns": [
            {"name": c.name, "label": c.label, "kind": c.kind} for c in report.columns
        ],
        "rows": report.public_rows(),
        "total": report.public_total(),
        "notes": list(report.notes),
        "released": report.released,
        "released_until": (report.released_until.isoformat()
                           if report.released_until else None),
        "period_released": report.period_released,
    }


def as_csv(report: Report) -> str:
    """One header line, one line per row, then the total; suppressed figures are empty."""
    rows = report.public_rows()
    total = report.public_total()
    if total is not None:
        rows = [*rows, {**total, "key": "total", "label": "total"}]
    buffer = io.StringIO()
    fields = list(rows[0]) if rows else [
        *privacy.PUBLIC_FIELDS,
        *(c.name for c in report.columns if c.name not in privacy.PUBLIC_FIELDS),
        *(f"{name}_{report.value}" for name in ("previous", "last_year")),
        "change_previous_pct",
        "change_last_year_pct",
    ]
    writer = csv_cells.Writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow("" if row.get(name) is None else row[name] for name in fields)
    return buffer.getvalue()


def csv_filename(report: Report) -> str:
    return f"{report.name}_{report.period.start.isoformat()}_{report.period.end.isoformat()}.csv"
