"""Forms of the campaign and event pages."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from loyalty.earning import campaigns


class EuroField(DecimalField):
    """Euro amounts as Belgians type them: "1.500,00" or "1500.00" or "1500"."""

    def process_formdata(self, valuelist: list[str]) -> None:
        cleaned = []
        for value in valuelist:
            text = value.replace(" ", "").replace("\u00a0", "")
            if "," in text:
                text = text.replace(".", "").replace(",", ".")
            cleaned.append(text)
        super().process_formdata(cleaned)


class CampaignForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=campaigns.MAX_NAME)])
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[DataRequired()])
    budget = EuroField(
        _l("Budget (€)"), places=2,
        validators=[DataRequired(), NumberRange(min=0.01, max=campaigns.MAX_BUDGET_CENTS / 100)],
    )
    kind = RadioField(
        _l("Bonus"),
        choices=[SelectChoice("multiplier", _l("Multiply the points")),
                 SelectChoice("fixed", _l("Fixed bonus points per sale"))],
        default="multiplier",
    )
    multiplier = DecimalField(
        _l("Multiplier"), places=2, default=2,
        validators=[Optional(), NumberRange(min=1.01, max=float(campaigns.MAX_MULTIPLIER))],
    )
    bonus_points = IntegerField(
        _l("Bonus points per sale"),
        validators=[Optional(), NumberRange(min=1, max=campaigns.MAX_BONUS_POINTS)],
    )
    sectors = StringField(
        _l("Sectors (NACE-BEL codes, comma-separated)"), validators=[Optional(), Length(max=300)]
    )
    shops = SelectMultipleField(_l("Shops"), coerce=int, choices=[], validators=[Optional()])

    def validate_ends_on(self, field: Any) -> None:
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The last day cannot be before the first day."))

    def validate_multiplier(self, field: Any) -> None:
        if self.kind.data == "multiplier" and field.data is None:
            raise ValidationError(_l("Give the multiplier, for example 2 for double points."))

    def validate_bonus_points(self, field: Any) -> None:
        if self.kind.data == "fixed" and field.data is None:
            raise ValidationError(_l("Give the number of bonus points per sale."))

    def sector_codes(self) -> list[str]:
        return [c.strip() for c in (self.sectors.data or "").split(",") if c.strip()]


class EventForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=campaigns.MAX_NAME)])
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[DataRequired()])

    def validate_ends_on(self, field: Any) -> None:
        if self.starts_on.data and field.data:
            if field.data < self.starts_on.data:
                raise ValidationError(_l("The last day cannot be before the first day."))
            if (field.data - self.starts_on.data).days >= campaigns.MAX_EVENT_DAYS:
                raise ValidationError(_l("An event lasts at most 31 days."))
