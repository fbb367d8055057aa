from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from loyalty.claims import MAX_SALE_CENTS


class AmountField(DecimalField):
    """Euro amounts as Belgians type them: "23,50" as well as "23.50"."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata([v.replace(",", ".").replace(" ", "") for v in valuelist])


class SaleForm(FlaskForm):
    amount = AmountField(
        _l("Amount of the sale (€)"),
        places=2,
        validators=[Optional(), NumberRange(min=0, max=MAX_SALE_CENTS / 100)],
    )
    stamps = IntegerField(_l("Stamps"), default=0, validators=[Optional(), NumberRange(0, 20)])
    stamp_card = SelectField(_l("Stamp card"), coerce=int, validators=[Optional()], choices=[])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Spend code"), validators=[DataRequired(), Length(min=8, max=20)]
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
