"""Forms of the dashboard's administration pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from loyalty.oversight.fraud import MAX_NOTE
from loyalty.town import scheme_settings as limits
from loyalty.web.fields import CountField, ThousandsField


def _between(bounds: tuple[int, int]) -> NumberRange:
    return NumberRange(bounds[0], bounds[1], message=_l("Between %(min)d and %(max)d."))


def _required() -> InputRequired:
    return InputRequired(_l("Fill this in."))


class SettingsForm(FlaskForm):
    point_value_cents = CountField(
        _l("Value of one point, in euro cents"),
        validators=[_required(), _between(limits.POINT_VALUE_CENTS)],
    )
    earn_rate = CountField(
        _l("Points per full euro spent"), validators=[_required(), _between(limits.EARN_RATE)]
    )
    earn_rate_max = CountField(
        _l("Most points per euro a shop may give"),
        validators=[_required(), _between(limits.EARN_RATE)],
    )
    validity_months = CountField(
        _l("Points stay valid for (months)"),
        validators=[_required(), _between(limits.VALIDITY_MONTHS)],
    )
    k_anonymity = CountField(
        _l("Smallest number of shoppers in a report figure (k)"),
        validators=[_required(), _between(limits.K_ANONYMITY)],
    )
    claim_ttl_minutes = CountField(
        _l("A till's QR code expires after (minutes)"),
        validators=[_required(), _between(limits.CLAIM_TTL_MINUTES)],
    )
    hold_ttl_minutes = CountField(
        _l("A spend code expires after (minutes)"),
        validators=[_required(), _between(limits.HOLD_TTL_MINUTES)],
    )
    correction_days = CountField(
        _l("A shop may correct a sale for (days)"),
        validators=[_required(), _between(limits.CORRECTION_DAYS)],
    )
    confirm_above_euros = ThousandsField(  # also "1.000", as thousands are written
        _l("The till asks for confirmation above (euros)"),
        validators=[_required(), _between(limits.CONFIRM_ABOVE_EUROS)],
    )
    villages = TextAreaField(
        _l("Villages (one a line)"),
        validators=[DataRequired(_l("Name at least one village."))],
    )
    inhabitants = ThousandsField(
        _l("Number of inhabitants"), validators=[Optional(), _between(limits.INHABITANTS)]
    )
    compare_opt_in = BooleanField(
        _l("Share our totals per inhabitant with the other municipalities that do the same")
    )
    release_epsilon_per_day = SelectField(
        _l("Privacy budget per day of the released statistics (epsilon)"),
        choices=[SelectChoice(str(e), str(e)) for e in limits.RELEASE_EPSILONS],
        validators=[InputRequired(_l("Fill this in."))],
    )
    # Left out of a form posted without it (an older page): the budget stays.
    release_campaign_epsilon = SelectField(
        _l("Privacy budget of a campaign evaluation, per day of its weeks (epsilon)"),
        choices=[SelectChoice(str(e), str(e)) for e in limits.RELEASE_EPSILONS],
        validators=[Optional()],
    )
    release_epsilon_per_period = SelectField(
        _l("Privacy budget per week, month, quarter or year of the shopper statistics "
           "(epsilon)"),
        choices=[SelectChoice(str(e), str(e)) for e in limits.RELEASE_EPSILONS],
        # A form posted without it (an older page) leaves the budget as it is.
        default="1.0",
    )
    release_max_purchases = CountField(
        _l("Purchases of one shopper counted per day, at most"),
        validators=[_required(), _between(limits.RELEASE_MAX_PURCHASES)],
    )
    release_max_euros = CountField(
        _l("Euros of one shopper counted per day, at most"),
        validators=[_required(), _between(limits.RELEASE_MAX_EUROS)],
    )
    open_data = BooleanField(
        _l("Publish the released statistics as open data")
    )
    voucher_amounts = StringField(
        _l("Gift voucher amounts on sale (euros)"),
        validators=[Optional(), Length(max=100)],
    )
    contact_email = EmailField(
        _l("E-mail address for questions about personal data"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            Optional(),
            Email(_l("This is not a valid e-mail address.")),
            Length(max=limits.MAX_EMAIL_LENGTH, message=_l("This is not a valid e-mail address.")),
        ],
    )


class InviteForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[
            DataRequired(_l("Type the e-mail address.")),
            Email(_l("This is not a valid e-mail address.")),
            Length(max=254, message=_l("This is not a valid e-mail address.")),
        ],
    )
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("municipality_analyst", _l("Analyst: reads the reports")),
            SelectChoice(
                "municipality_admin", _l("Admin: also shops, settings, staff and fraud flags")
            ),
        ],
    )


class RoleForm(FlaskForm):
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("municipality_analyst", _l("Analyst")),
            SelectChoice("municipality_admin", _l("Admin")),
        ],
    )


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that only reads

    action = SelectField(_l("Action"), choices=[], validate_choice=False)
    actor = SelectField(_l("Who"), choices=[], validate_choice=False)
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])


class FlagNoteForm(FlaskForm):
    note = TextAreaField(
        _l("Note"),
        validators=[Length(max=MAX_NOTE, message=_l("At most %(max)d characters."))],
    )


class PublishedTextForm(FlaskForm):
    """A published text (loyalty.town.published_texts): its length is checked there,
    where the limit is, and said in the reader's number format."""

    body = TextAreaField(
        _l("Text"), validators=[DataRequired(_l("Write the text, or go back to the default text."))]
    )


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that only reads

    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])


__all__ = [
    "AuditFilterForm",
    "FlagNoteForm",
    "ClusterForm",
    "FootfallForm",
    "InviteForm",
    "PeriodForm",
    "PublishedTextForm",
    "RoleForm",
    "SettingsForm",
]


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class ClusterForm(FlaskForm):
    name = StringField(
        _l("Name of the shopping cluster"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[DataRequired(_l("Fill this in.")),
                    Length(max=80, message=_l("Give a name of at most 80 characters."))],
    )


class FootfallForm(FlaskForm):
    file = FileField(
        _l("Footfall file (CSV)"), validators=[FileRequired(_l("Choose a CSV file."))])
