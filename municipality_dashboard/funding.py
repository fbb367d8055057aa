"""Bank transfers from shops: the admin records what the bank statement shows.

A shop tops up its prepaid balance by transferring money to the municipality
with its structured communication. The admin types the communication, the
amount and the bank's reference of the transfer; recording the same reference
again credits nothing (loyalty.money.funding).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange
from wtforms.widgets import TextInput

from loyalty.errors import Conflict, NotFound
from loyalty.models import Account, AccountKind, Merchant, MerchantStatus
from loyalty.money import funding
from loyalty.web import db
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, bp, current_scheme, render

MAX_TRANSFER_EUR = 1_000_000


class EuroField(DecimalField):
    """Euro amounts as Belgians type them: "23,50" as well as "23.50".

    A text box: a number box would refuse the comma.
    """

    widget = TextInput()

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata([v.replace(",", ".").replace(" ", "") for v in valuelist])


class BankTransferForm(FlaskForm):
    communication = StringField(
        _l("Structured communication"),
        validators=[DataRequired(_l("Type the structured communication of the transfer."))],
    )
    amount = EuroField(
        _l("Amount (€)"),
        places=2,
        validators=[
            InputRequired(_l("Type the amount of the transfer.")),
            NumberRange(0.01, MAX_TRANSFER_EUR, message=_l("Type the amount of the transfer.")),
        ],
    )
    reference = StringField(
        _l("Bank reference of the transfer"),
        validators=[
            DataRequired(_l("Type the bank's reference of the transfer.")),
            Length(max=funding.MAX_REFERENCE, message=_l("At most %(max)d characters.")),
        ],
    )


def _shops(scheme_id: int) -> list[dict[str, Any]]:
    rows = db().execute(
        sa.select(Merchant, Account.balance)
        .join(
            Account,
            sa.and_(
                Account.merchant_id == Merchant.id,
                Account.kind == AccountKind.MERCHANT_PREPAID,
            ),
        )
        .where(Merchant.scheme_id == scheme_id, Merchant.status != MerchantStatus.PENDING)
        .order_by(Merchant.name)
    ).all()
    return [
        {
            "name": m.name,
            "communication": funding.structured_communication(m.id),
            "prepaid_cents": balance,
        }
        for m, balance in rows
    ]


def _page(status: int = 200, form: BankTransferForm | None = None) -> Any:
    scheme = current_scheme()
    return render(
        "funding.html",
        status,
        form=form or BankTransferForm(formdata=None),
        transfers=funding.recent_bank_transfers(db(), scheme.id),
        shops=_shops(scheme.id),
        done=request.args.get("done"),
    )


# Endpoint "funding"; the function has another name so as not to hide loyalty.money.funding.
@bp.get("/funding", endpoint="funding")
@staff_required(*ADMIN)
def funding_page() -> Any:
    return _page()


@bp.post("/funding")
@staff_required(*ADMIN)
def record_transfer() -> Any:
    form = BankTransferForm()
    if not form.validate_on_submit():
        return _page(422, form)
    merchant_id = funding.merchant_for_communication(
        db(), current_scheme().id, form.communication.data or ""
    )
    if merchant_id is None:
        form.communication.errors = [
            _("This is not a valid structured communication, such as +++000/0001/23456+++.")
        ]
        return _page(422, form)
    cents = int((form.amount.data or Decimal(0)) * 100)
    try:
        _payment, created = funding.record_bank_transfer(
            db(),
            current_scheme().id,
            merchant_id,
            cents,
            form.reference.data or "",
            recorded_by_id=current_staff().user.id,
        )
    except NotFound:
        form.communication.errors = [_("No shop of this municipality has this communication.")]
        return _page(422, form)
    except Conflict:
        form.reference.errors = [
            _("This bank reference is already recorded for another shop or amount.")
        ]
        return _page(409, form)
    return redirect(url_for("dashboard.funding", done="recorded" if created else "again"), 303)
