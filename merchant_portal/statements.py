"""The shop owner's settlement statements: one per settled month, as PDF or CSV.

An owner sees only its own shop's statements: the lines are looked up by the
signed-in user's shop, never by an id from the URL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort
from flask_babel import gettext

from loyalty.errors import LoyaltyError
from loyalty.models import Settlement, SettlementLine
from loyalty.money.settlement import monthly, periods
from loyalty.money.settlement import statements as documents
from loyalty.web import attachment, db, i18n
from loyalty.web.signin import staff_required
from merchant_portal.common import OWNER, bp, current_merchant, render


@bp.get("/statements")
@staff_required(*OWNER)
def statements() -> Any:
    merchant = current_merchant()
    rows = db().execute(
        sa.select(Settlement, SettlementLine)
        .join(SettlementLine, SettlementLine.settlement_id == Settlement.id)
        .where(
            SettlementLine.merchant_id == merchant.id, Settlement.scheme_id == merchant.scheme_id
        )
        .order_by(Settlement.period.desc())
    ).all()
    # The credit (euros) the shop took each month, shown apart from the points' value.
    taken = {
        locked.id: monthly.euros_redeemed(db(), locked.id).get(merchant.id, 0)
        for locked, _line in rows
    }
    return render("owner_statements.html", rows=rows, taken=taken,
                  reference=periods.format_reference)


@bp.get("/statements/<period>.<fmt>")
@staff_required(*OWNER)
def statement_download(period: str, fmt: str) -> Any:
    merchant = current_merchant()
    if fmt not in ("pdf", "csv"):
        abort(404)
    try:
        locked = monthly.get(db(), merchant.scheme_id, period)
        st = documents.statement(db(), locked, merchant.id)
    except LoyaltyError:
        abort(404)
    name = f"statement-{period}-{merchant.id}.{fmt}"
    if fmt == "pdf":
        pdf = documents.statement_pdf(st, gettext, i18n.babel_locale())
        return attachment(pdf, "application/pdf", name)
    return attachment(documents.statement_csv(st), "text/csv", name)
