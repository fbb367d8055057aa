"""Form fields the three front ends share: numbers as people type them, with a
plain message (not WTForms' "Not a valid integer value") when something else is typed."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, IntegerField
from wtforms.widgets import TextInput

from loyalty.web import i18n


class CountField(IntegerField):
    """A whole number, with a plain message when something else is typed."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None  # InputRequired or Optional decides whether empty is fine
            return
        try:
            self.data = int(self.clean(valuelist[0]))
        except ValueError:
            self.data = None
            raise ValueError(_l("Type a whole number, such as 10.")) from None

    def clean(self, text: str) -> str:
        return text.strip()


class ThousandsField(CountField):
    """Also "20.000" or "20 000", as a Flemish reader writes thousands."""

    def clean(self, text: str) -> str:
        return "".join(ch for ch in text if ch not in ". \u00a0\u202f")


class EuroAmountField(DecimalField):
    """Euro amounts as Belgians type them: "1.234,50", "23,50" as well as "23.50";
    ``cents`` is the amount in cents (None when empty)."""

    # A text box: a number input refuses "7,50" in many browsers.
    widget = TextInput()

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        cents = i18n.parse_amount(valuelist[0])
        if cents is None:
            self.data = None
            raise ValueError(_l("Type an amount in euros, such as 23,50."))
        self.data = Decimal(cents) / 100

    @property
    def cents(self) -> int | None:
        return None if self.data is None else int(self.data * 100)
