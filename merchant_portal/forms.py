from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp

from loyalty.access.staff import MIN_PASSWORD_LENGTH
from loyalty.earning.claims import MAX_SALE_CENTS


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


class CorrectionForm(FlaskForm):
    reason = StringField(
        _l("Why is the sale corrected?"),
        validators=[DataRequired(_l("Say why the sale is corrected.")),
                    Length(max=200, message=_l("Keep the reason under 200 characters."))],
    )


class CodeForm(FlaskForm):
    code = StringField(_l("Spend code"), validators=[DataRequired(), Length(min=8, max=20)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class CardPointsForm(FlaskForm):
    number = StringField(
        _l("Printed card number"),
        validators=[DataRequired(), Length(min=12, max=20)],
    )


class CardSpendForm(FlaskForm):
    number = StringField(
        _l("Printed card number"), validators=[DataRequired(), Length(min=12, max=20)]
    )
    pin = PasswordField(_l("PIN"), validators=[DataRequired(), Length(min=4, max=4)])
    points = IntegerField(
        _l("Points to spend"), validators=[DataRequired(), NumberRange(min=1, max=1_000_000)]
    )


class PrintCardsForm(FlaskForm):
    count = IntegerField(
        _l("Number of cards"), default=10, validators=[DataRequired(), NumberRange(min=1, max=50)]
    )


class ApplyForm(FlaskForm):
    scheme = SelectField(_l("Municipality"), validators=[DataRequired()], choices=[])
    name = StringField(_l("Name of the shop"), validators=[DataRequired(), Length(max=200)])
    sector = SelectField(_l("Sector"), validators=[DataRequired()], choices=[])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=300)])
    postcode = StringField(
        _l("Postcode"),
        validators=[DataRequired(), Regexp(r"^[1-9]\d{3}$", message=_l("Four digits."))],
    )
    email = EmailField(
        _l("E-mail address (your login)"), validators=[DataRequired(), Email(), Length(max=254)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]
    )
