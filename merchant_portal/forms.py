from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from loyalty.access.staff import MIN_PASSWORD_LENGTH
from loyalty.earning.claims import MAX_SALE_CENTS
from loyalty.web import i18n
from loyalty.web.fields import CountField


class AmountField(DecimalField):
    """Euro amounts as Belgians type them: "1.234,50", "23,50" as well as "23.50"."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        cents = i18n.parse_amount(valuelist[0])
        if cents is None:
            self.data = None
            raise ValueError(_l("Type an amount in euros, such as 23,50."))
        self.data = Decimal(cents) / 100


class EuroRange:
    """The amount's limits, said in euros as the reader writes them."""

    def __init__(self, max_cents: int) -> None:
        self.max_cents = max_cents

    def __call__(self, form: FlaskForm, field: AmountField) -> None:
        if field.data is not None and field.data * 100 > self.max_cents:
            raise ValidationError(
                _("A sale is at most %(max)s. Split a larger purchase.",
                  max=i18n.euro(self.max_cents))
            )


class SaleForm(FlaskForm):
    amount = AmountField(
        _l("Amount of the sale (€)"),
        places=2,
        validators=[Optional(), EuroRange(MAX_SALE_CENTS)],
    )
    stamps = IntegerField(
        _l("Stamps"), default=0,
        validators=[Optional(), NumberRange(0, 20, message=_l("Between 0 and 20 stamps."))],
    )
    stamp_card = SelectField(_l("Stamp card"), coerce=int, validators=[Optional()], choices=[])
    # "1" once the cashier said a large amount is right (the scheme's threshold).
    confirmed = HiddenField()


class CorrectionForm(FlaskForm):
    reason = StringField(
        _l("Why is the sale corrected?"),
        validators=[DataRequired(_l("Say why the sale is corrected.")),
                    Length(max=200, message=_l("Keep the reason under 200 characters."))],
    )


class CodeForm(FlaskForm):
    code = StringField(
        _l("Spend code"),
        validators=[
            DataRequired(_l("Type or scan the shopper's spend code.")),
            Length(min=8, max=20, message=_l("A spend code has 8 digits.")),
        ],
    )


class GiftVoucherForm(FlaskForm):
    voucher_code = StringField(
        _l("Gift voucher code"),
        validators=[
            DataRequired(_l("Type or scan the code of the printed gift voucher.")),
            Length(max=200, message=_l("This is not a gift voucher code.")),
        ],
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


CARD_NUMBER = [
    DataRequired(_l("Scan the printed card or type its 12 digits.")),
    Length(min=12, max=20, message=_l("A printed card number has 12 digits.")),
]


class CardPointsForm(FlaskForm):
    number = StringField(_l("Card number"), validators=CARD_NUMBER)


class CardSpendForm(FlaskForm):
    number = StringField(_l("Printed card number"), validators=CARD_NUMBER)
    pin = PasswordField(
        _l("PIN"),
        validators=[DataRequired(_l("Type the card's four-digit PIN.")),
                    Length(min=4, max=4, message=_l("The PIN has four digits."))],
    )
    points = CountField(
        _l("Points to spend"),
        validators=[DataRequired(_l("How many points?")),
                    NumberRange(min=1, max=1_000_000, message=_l("At least 1 point."))],
    )


class PrintCardsForm(FlaskForm):
    count = CountField(
        _l("Number of cards"), default=10,
        validators=[DataRequired(_l("How many cards?")),
                    NumberRange(min=1, max=50, message=_l("Between 1 and 50 cards at a time."))],
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
