"""Forms of the shop owner's pages: stamp cards, team and tills, shop profile."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from loyalty.money.funding import MAX_TOP_UP, MIN_TOP_UP
from loyalty.shops.team import MAX_ADDRESS, MAX_OPENING_HOURS
from loyalty.web.fields import CountField
from merchant_portal.forms import AmountField


class StampCardForm(FlaskForm):
    name = StringField(
        _l("Name of the card"),
        validators=[
            DataRequired(_l("Give the card a name, such as “Coffee card”.")),
            Length(max=100, message=_l("At most %(max)d characters.")),
        ],
    )
    stamps_needed = CountField(
        _l("Stamps for a full card"),
        validators=[
            InputRequired(_l("Type how many stamps fill the card.")),
            NumberRange(2, 50, message=_l("A card needs between %(min)d and %(max)d stamps.")),
        ],
    )
    reward = StringField(
        _l("Reward for a full card"),
        validators=[
            DataRequired(_l("Type what the shopper gets for a full card.")),
            Length(max=200, message=_l("At most %(max)d characters.")),
        ],
    )
    voucher_valid_days = CountField(
        _l("Days the voucher stays valid (optional)"),
        validators=[
            Optional(),
            NumberRange(
                1, 3650, message=_l("Between %(min)d and %(max)d days, or leave it empty.")
            ),
        ],
    )


class InviteForm(FlaskForm):
    email = EmailField(
        _l("E-mail address of the cashier"),
        validators=[
            DataRequired(_l("Type the cashier's e-mail address.")),
            Email(_l("This is not a valid e-mail address.")),
            Length(max=254, message=_l("This is not a valid e-mail address.")),
        ],
    )


class TillKeyForm(FlaskForm):
    label = StringField(
        _l("Name of the till (optional)"),
        validators=[Optional(), Length(max=100, message=_l("At most %(max)d characters."))],
    )


class ProfileForm(FlaskForm):
    address = StringField(
        _l("Street and number"),
        validators=[
            Optional(),
            Length(max=MAX_ADDRESS, message=_l("At most %(max)d characters.")),
        ],
    )
    postcode = StringField(
        _l("Postcode"), validators=[DataRequired(_l("Type the postcode of the shop."))]
    )
    opening_hours = TextAreaField(
        _l("Opening hours"),
        validators=[
            Optional(),
            Length(
                max=MAX_OPENING_HOURS,
                message=_l("At most %(max)d characters."),
            ),
        ],
    )
    # Any known NACE-BEL code is fine (loyalty.shops.team checks it), so the list is
    # a convenience rather than a limit.
    sector = SelectField(
        _l("Sector"),
        choices=[],
        validate_choice=False,
        validators=[DataRequired(_l("Choose the sector of the shop."))],
    )
    email = EmailField(
        _l("E-mail address of the shop"),
        validators=[
            DataRequired(_l("Type the shop's e-mail address.")),
            Email(_l("This is not a valid e-mail address.")),
            Length(max=254, message=_l("This is not a valid e-mail address.")),
        ],
    )


    # Where the scheme pays the shop; loyalty.money.settlement.bank_accounts checks IBAN and BIC.
    iban = StringField(
        _l("IBAN"),
        validators=[Optional(), Length(max=42, message=_l("This is not a valid IBAN."))],
    )
    bic = StringField(
        _l("BIC (optional for most Belgian banks)"),
        validators=[Optional(), Length(max=11, message=_l("This is not a valid BIC."))],
    )
    account_holder = StringField(
        _l("Account holder"),
        validators=[Optional(), Length(max=70, message=_l("At most %(max)d characters."))],
    )
    # Asked only when the bank account changes (loyalty.money.settlement.bank_accounts checks it).
    password = PasswordField(_l("Your password"), validators=[Optional()])


class LogoForm(FlaskForm):
    logo = FileField(
        _l("Logo (PNG, JPEG or WebP, at most 200 kB)"),
        validators=[FileRequired(_l("Choose an image file."))],
    )


class RemoveLogoForm(FlaskForm):
    """Only the CSRF token."""


class TopUpForm(FlaskForm):
    amount = AmountField(
        _l("Amount (€)"),
        places=2,
        # A text box: a number box would refuse "25,50".
        render_kw={"type": "text"},
        validators=[
            InputRequired(_l("Type the amount you want to pay in advance.")),
            NumberRange(
                MIN_TOP_UP / 100,
                MAX_TOP_UP / 100,
                # The bounds are loyalty.money.funding's MIN_TOP_UP and MAX_TOP_UP.
                message=_l("Type an amount from € 10 to € 10,000."),
            ),
        ],
    )


class EarnRateForm(FlaskForm):
    # The bounds come from the scheme: the domain checks them (loyalty.shops.earn_rate).
    rate = CountField(
        _l("Points per full euro"),
        validators=[InputRequired(_l("Type how many points a euro gives."))],
    )


class WebhookForm(FlaskForm):
    address = StringField(
        _l("Address (URL)"),
        validators=[
            DataRequired(_l("Type the address your system receives events on.")),
            Length(max=500, message=_l("At most %(max)d characters.")),
        ],
    )
    claim_collected = BooleanField(_l("A shopper collected the points of a sale"))
    redemption_confirmed = BooleanField(_l("A spend code was accepted in your shop"))
    sale_reversed = BooleanField(_l("A sale was corrected"))

    EVENTS = {
        "claim_collected": "claim.collected",
        "redemption_confirmed": "redemption.confirmed",
        "sale_reversed": "sale.reversed",
    }

    def chosen_events(self) -> list[str]:
        return [event for name, event in self.EVENTS.items() if self[name].data]
