"""Monthly settlement: lock a month (municipality admin), read it (admin, or a shop its row)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_babel import gettext
from flask_smorest import Blueprint

from loyalty.api.auth import require_staff
from loyalty.api.common import AUTH
from loyalty.api.idempotency import idempotent
from loyalty.api.schemas import SettlementCreate, SettlementView
from loyalty.errors import Forbidden, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import Role, Scheme, Settlement, StaffUser
from loyalty.money.settlement import monthly, payment_requests, payouts, statements
from loyalty.web import attachment, db, i18n, public_url

blp = Blueprint("settlements", __name__, description="Monthly settlement of the shops")


def answer(locked: Settlement, user: StaffUser) -> dict[str, Any]:
    """The contract's settlement body; a shop owner gets its own row and no town totals."""
    found = monthly.lines_of(db(), locked.id)
    admin = user.role == Role.MUNICIPALITY_ADMIN
    if not admin:
        found = [line for line in found if line.merchant_id == user.merchant_id]
    taken = monthly.euros_redeemed(db(), locked.id)
    lines = [
        {"merchant_id": line.merchant_id, "issued_cents": line.issued_cents,
         "redeemed_cents": line.redeemed_cents,
         "euros_redeemed_cents": taken.get(line.merchant_id, 0),
         "fees_cents": line.fees_cents, "net_cents": line.net_cents}
        for line in found
    ]
    url = None
    if admin and locked.sepa_xml is not None:
        url = public_url(f"/api/v1/settlements/{locked.period}/sepa.xml")
    return {
        "period": locked.period,
        "locked": True,
        "shops": lines,
        "sepa_xml_url": url,
        "control_sum_cents": locked.control_sum_cents if admin else None,
    }


@blp.route("/settlements")
class SettlementsView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.arguments(SettlementCreate())
    @blp.response(201, SettlementView)
    @blp.alt_response(200, schema=SettlementView, description="the month was already locked")
    @blp.alt_response(409, description="a later month is already settled, or an earlier "
                      "one is due first (months are settled one by one, in order)")
    def post(self, body: dict[str, Any]) -> Any:
        """Settle a month: lock it, post payouts, write the SEPA file, ask debtors to pay."""
        admin = require_staff(Role.MUNICIPALITY_ADMIN)
        session = db()
        scheme = session.get_one(Scheme, admin.scheme_id)
        stripe = payouts.stripe_settings(current_app.config)
        result = monthly.settle(
            session, scheme, body["period"], utcnow(), stripe_payouts=stripe is not None,
            actor=admin,
        )
        # Made inside the request; a transfer or e-mail that fails is left
        # pending, and the next call for this month tries again (the
        # transfer's idempotency key keeps Stripe from paying twice).
        payouts.pay_by_stripe(session, result.settlement, stripe)
        payment_requests.request_payments(session, result.settlement, current_app.config, utcnow())
        return answer(result.settlement, admin), 201 if result.created else 200


@blp.route("/settlements/<period>")
class OneSettlementView(MethodView):
    @blp.doc(security=AUTH)
    @blp.response(200, SettlementView)
    def get(self, period: str) -> dict[str, Any]:
        """A locked month: the admin sees every shop, a shop owner only its own row."""
        user = require_staff(Role.MUNICIPALITY_ADMIN, Role.MERCHANT_OWNER)
        locked = monthly.get(db(), user.scheme_id, period)
        return answer(locked, user)


@blp.route("/settlements/<period>/sepa.xml")
class SepaFileView(MethodView):
    @blp.doc(security=AUTH)
    @blp.response(200, description="pain.001.001.03 XML")
    def get(self, period: str) -> Response:
        """The SEPA credit-transfer file of a locked month (municipality admin)."""
        admin = require_staff(Role.MUNICIPALITY_ADMIN)
        locked = monthly.get(db(), admin.scheme_id, period)
        if locked.sepa_xml is None:
            raise NotFound("this month has no SEPA transfers", code="no_sepa_file")
        return sepa_response(locked)


@blp.route("/settlements/<period>/statements/<int:merchant_id>.<fmt>")
class StatementView(MethodView):
    @blp.doc(security=AUTH)
    @blp.response(200, description="the shop's statement, fmt csv or pdf")
    def get(self, period: str, merchant_id: int, fmt: str) -> Response:
        """A shop's statement of a locked month (the admin, or that shop's owner)."""
        user = require_staff(Role.MUNICIPALITY_ADMIN, Role.MERCHANT_OWNER)
        if user.role == Role.MERCHANT_OWNER and user.merchant_id != merchant_id:
            raise Forbidden("you can only see your own shop's statements", code="wrong_merchant")
        if fmt not in ("csv", "pdf"):
            raise NotFound("statements are csv or pdf")
        locked = monthly.get(db(), user.scheme_id, period)
        return statement_response(statements.statement(db(), locked, merchant_id), fmt)


def sepa_response(locked: Settlement) -> Response:
    return attachment(locked.sepa_xml or "", "application/xml", f"sepa-{locked.period}.xml")


def statement_response(st: statements.Statement, fmt: str) -> Response:
    name = f"statement-{st.settlement.period}-{st.merchant.id}.{fmt}"
    if fmt == "pdf":
        pdf = statements.statement_pdf(st, gettext, i18n.babel_locale())
        return attachment(pdf, "application/pdf", name)
    return attachment(statements.statement_csv(st), "text/csv", name)
