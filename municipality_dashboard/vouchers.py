"""Gift vouchers: companies' orders, the transfer that issues their codes, the codes' CSV.

Recording an order's transfer asks first (the codes it issues cannot be taken
back); the order's ``paid_at`` is set once in the database, so two admins (or
two tabs) confirming at the same moment issue the codes once.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from loyalty.errors import InvalidInput
from loyalty.infra.db import utcnow
from loyalty.models import GiftVoucherOrder
from loyalty.money import funding, vouchers
from loyalty.web import attachment, confirm, db, public_url, voucher_mail
from loyalty.web.i18n import euro
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, bp, current_scheme, render


class OrderPaidForm(FlaskForm):
    reference = StringField(
        _l("Bank reference of the transfer"),
        validators=[
            DataRequired(_l("Type the bank's reference of the transfer.")),
            Length(max=funding.MAX_REFERENCE, message=_l("At most %(max)d characters.")),
        ],
    )


def _page(status: int = 200, forms: dict[int, OrderPaidForm] | None = None) -> Any:
    scheme = current_scheme()
    session = db()
    orders = vouchers.list_orders(session, scheme.id)
    forms = forms or {}
    return render(
        "vouchers.html", status,
        orders=orders,
        forms={o.id: forms.get(o.id) or OrderPaidForm(formdata=None, prefix=f"o{o.id}")
               for o in orders if o.paid_at is None},
        communication=vouchers.communication,
        outstanding=vouchers.outstanding_cents(session, scheme.id),
        amounts=vouchers.allowed_amounts(scheme),
        order_page=lambda o: public_url(f"/vouchers/orders/{voucher_mail.order_token(o)}"),
        company_form=public_url(f"/vouchers/company?town={scheme.id}"),
        done=request.args.get("done"),
    )


@bp.get("/vouchers")
@staff_required(*ADMIN)
def vouchers_page() -> Any:
    """Companies' orders and the money of codes not yet redeemed."""
    return _page()


def _order(order_id: int) -> GiftVoucherOrder:
    return vouchers.get_order(db(), current_scheme().id, order_id)


@bp.post("/vouchers/orders/<int:order_id>/paid")
@staff_required(*ADMIN)
def voucher_order_paid(order_id: int) -> Any:
    """The order's transfer is on the bank statement: issue its codes, exactly once."""
    order = _order(order_id)
    form = OrderPaidForm(prefix=f"o{order.id}")
    if not form.validate_on_submit():
        return _page(422, {order.id: form})
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            title=_("Issue the codes of %(company)s?", company=order.company_name),
            consequence=_(
                "Only if the transfer of %(amount)s with %(communication)s is on the bank "
                "statement. %(count)d codes of %(each)s are issued and the company gets the "
                "link to them by e-mail; this cannot be undone.",
                amount=euro(order.total_cents), communication=vouchers.communication(order),
                count=order.quantity, each=euro(order.amount_cents),
            ),
            yes=_("Yes, issue the codes"),
            back=url_for("dashboard.vouchers_page"),
        ))
    try:
        issued = vouchers.record_transfer(
            db(), order, form.reference.data or "", recorded_by_id=current_staff().user.id,
            now=utcnow(),
        )
    except InvalidInput:
        form.reference.errors = [_("Type the bank's reference of the transfer.")]
        return _page(422, {order.id: form})
    if issued:
        # Committed before the mail: a mail about codes a rollback took back would lie.
        db().commit()
        voucher_mail.send_order_codes(order)
    return redirect(url_for("dashboard.vouchers_page", done="issued" if issued else "again"),
                    303)


@bp.get("/vouchers/orders/<int:order_id>/codes.csv")
@staff_required(*ADMIN)
def voucher_order_codes(order_id: int) -> Any:
    order = _order(order_id)
    body = vouchers.codes_csv(db(), order, public_url("/vouchers/redeem"))
    return attachment(body, "text/csv", f"vouchers-{order.id}.csv")
