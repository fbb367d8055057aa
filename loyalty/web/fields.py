"""Form fields the three front ends share: numbers as people type them, with a
plain message (not WTForms' "Not a valid integer value") when something else is typed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField


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
