"""The wallet's forms; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from loyalty.shoppers.wallets import AGE_BANDS
from loyalty.web.fields import CountField, EuroAmountField


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class CodeForm(FlaskForm):
    """A one-time code on paper: of a grant, or of the social service."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Fill in the code from your letter.")),
                    Length(min=16, max=40, message=_l("This is not a code: it has 16 letters "
                                                      "and digits."))],
    )


class GrantForm(CodeForm):
    """The claim button; the code is asked only for a grant for holders of a code."""

    code = StringField(_l("Code"), validators=[Optional(), Length(max=40)])


class SpendForm(FlaskForm):
    """Points, credit (euros) or both for one spend code; the view says which is missing."""

    points = CountField(
        _l("Points to spend"),
        validators=[Optional(),
                    NumberRange(min=1, max=1_000_000, message=_l("At least 1 point."))],
    )
    euros = EuroAmountField(
        _l("Credit to spend (€)"),
        places=2,
        validators=[Optional(),
                    NumberRange(min=Decimal("0.01"), max=Decimal("10000"),
                                message=_l("At least 0,01 euro."))],
    )


class EmailForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[DataRequired(_l("Fill in your e-mail address.")),
                    Email(_l("This is not a valid e-mail address.")),
                    Length(max=254, message=_l("This is not a valid e-mail address."))],
    )


class RecoveryForm(FlaskForm):
    recovery_code = StringField(
        _l("Recovery code"),
        validators=[DataRequired(_l("Fill in your recovery code.")),
                    Length(min=16, max=40, message=_l("This is not a recovery code: it has 16 "
                                                      "letters and digits."))],
    )


class StatisticsForm(FlaskForm):
    postcode = StringField(
        _l("Postcode"),
        validators=[Optional(), Regexp(r"^[1-9]\d{3}$", message=_l("Four digits, e.g. 9170."))],
    )
    village = SelectField(_l("Village"), validators=[Optional()], choices=[])
    age_band = SelectField(
        _l("Age"), validators=[Optional()],
        choices=[SelectChoice("", "—"), *(SelectChoice(a, a) for a in AGE_BANDS)]
    )
    consent = BooleanField(
        _l("I agree that my postcode, village and age band are used, without my name, "
           "for the municipality's statistics."),
        validators=[DataRequired(_l("Tick the box to give your consent."))],
    )


class DeleteForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand that my points are lost and my data is erased."),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


class BuyVoucherForm(FlaskForm):
    """A gift voucher: how much, and for whom. The amounts are the scheme's."""

    amount = RadioField(_l("Amount"), choices=[],
                        validators=[InputRequired(_l("Choose an amount."))])
    recipient = RadioField(
        _l("For whom?"),
        choices=[SelectChoice("me", _l("For myself: add it to my wallet")),
                 SelectChoice("email", _l("As a gift, sent by e-mail")),
                 SelectChoice("print", _l("As a gift, to print with a QR code"))],
        default="me",
        validators=[InputRequired(_l("Choose for whom."))],
    )
    email = EmailField(
        _l("The recipient's e-mail address"),
        validators=[Optional(), Email(_l("This is not a valid e-mail address.")),
                    Length(max=254, message=_l("This is not a valid e-mail address."))],
    )


class RedeemVoucherForm(FlaskForm):
    code = StringField(
        _l("Voucher code"),
        validators=[DataRequired(_l("Type the code of your voucher.")),
                    Length(max=200, message=_l("This is not a voucher code."))],
    )


class CompanyOrderForm(FlaskForm):
    company_name = StringField(
        _l("Company name"),
        validators=[DataRequired(_l("Fill in the company's name.")), Length(max=200)],
    )
    vat_number = StringField(
        _l("VAT number"),
        validators=[DataRequired(_l("Fill in the VAT number, e.g. BE0123456789.")),
                    Length(max=20, message=_l("Fill in the VAT number, e.g. BE0123456789."))],
    )
    email = EmailField(
        _l("E-mail address for the invoice and the codes"),
        validators=[DataRequired(_l("Fill in your e-mail address.")),
                    Email(_l("This is not a valid e-mail address.")),
                    Length(max=254, message=_l("This is not a valid e-mail address."))],
    )
    quantity = CountField(
        _l("Number of vouchers"),
        validators=[DataRequired(_l("How many vouchers?")),
                    NumberRange(min=1, max=1000, message=_l("From 1 to 1000 vouchers."))],
    )
    amount = RadioField(_l("Amount of each voucher"), choices=[],
                        validators=[InputRequired(_l("Choose an amount."))])
