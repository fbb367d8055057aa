"""Forms of the grant and social-tariff pages."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from loyalty.money import codes, grants, social
from loyalty.web.fields import CountField
from municipality_dashboard.campaign_forms import EuroField


class GrantForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=grants.MAX_NAME)])
    amount = EuroField(
        _l("Amount per person (€)"), places=2,
        validators=[DataRequired(), NumberRange(min=0.01, max=grants.MAX_AMOUNT_CENTS / 100)],
    )
    budget = EuroField(
        _l("Total budget (€)"), places=2,
        validators=[DataRequired(), NumberRange(min=0.01, max=grants.MAX_BUDGET_CENTS / 100)],
    )
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[DataRequired()])
    who = RadioField(
        _l("Who may claim"),
        choices=[SelectChoice("anyone", _l("Anyone with the link")),
                 SelectChoice("code", _l("Holders of a code the municipality hands out")),
                 SelectChoice("villages", _l("Residents of chosen villages"))],
        default="anyone",
    )
    villages = SelectMultipleField(_l("Villages"), choices=[], validators=[Optional()])
    codes = CountField(
        _l("Number of codes"),
        validators=[Optional(), NumberRange(min=1, max=codes.MAX_CODES)],
    )

    def validate_ends_on(self, field: Any) -> None:
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The last day cannot be before the first day."))

    def validate(self, extra_validators: Any = None) -> bool:
        # Optional() ends a field's own checks when it is empty, so what the choice
        # of "who" requires of the other fields is checked here.
        ok = super().validate(extra_validators)
        if self.who.data == "villages" and not self.villages.data:
            self.villages.errors = [_l("Choose at least one village.")]
            ok = False
        if self.who.data == "code" and not self.codes.data and not self.codes.errors:
            self.codes.errors = [_l("How many codes to print?")]
            ok = False
        return ok


class CodesForm(FlaskForm):
    count = CountField(
        _l("Number of codes"),
        validators=[InputRequired(), NumberRange(min=1, max=codes.MAX_CODES)],
    )


class SocialSettingsForm(FlaskForm):
    monthly = EuroField(
        _l("Monthly credit per entitled wallet (€)"), places=2,
        validators=[InputRequired(), NumberRange(min=0, max=social.MAX_MONTHLY_CENTS / 100)],
    )
    # A comma as the decimal sign too ("1,5"), as for amounts.
    multiplier = EuroField(
        _l("Points multiplier"), places=2,
        validators=[InputRequired(), NumberRange(min=1, max=social.MAX_MULTIPLIER_PCT / 100)],
    )


class SocialFundForm(FlaskForm):
    amount = EuroField(
        _l("Amount (€)"), places=2,
        validators=[DataRequired(), NumberRange(min=0.01, max=social.MAX_FUNDING_CENTS / 100)],
    )


class SocialCodesForm(FlaskForm):
    count = CountField(
        _l("Number of codes"),
        validators=[InputRequired(), NumberRange(min=1, max=codes.MAX_CODES)],
    )
    until = DateField(_l("Entitled until (included)"), validators=[DataRequired()])
