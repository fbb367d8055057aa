"""Languages (Dutch first, then French and English) and how amounts and dates read."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_interval, format_time, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = ("nl", "fr", "en")
DEFAULT = "nl"
COOKIE = "lang"
# Belgian conventions in Dutch and French ("€ 12,50", "23 november 2026"); in
# English the euro as English readers write it ("€12.50"), from Ireland's locale.
BABEL_LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_IE"}
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def select_locale() -> str:
    """?lang=, then the language cookie, then the browser's preference, then Dutch."""
    wanted = request.args.get("lang") or request.cookies.get(COOKIE)
    if wanted in LANGUAGES:
        return wanted
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT


def babel_locale() -> str:
    """The request's language as Babel formats it: nl_BE, fr_BE or en_IE."""
    return BABEL_LOCALES.get(str(get_locale()), "nl_BE")


_locale = babel_locale


def euro(cents: int) -> str:
    return format_currency(cents / 100, "EUR", locale=_locale())


# A typed euro amount: digits with an optional decimal part of one or two digits,
# thousands optionally grouped by "." or a space (Dutch and French) or ","
# (English). Babel's strict parser reads one locale's convention only, and a
# Belgian till sees both "23,50" and "23.50" whatever the page's language.
_AMOUNT = re.compile(
    r"(?P<int>\d{1,3}(?:(?P<group>[., ])\d{3})(?:(?P=group)\d{3})*|\d+)"
    r"(?:(?P<dec>[.,])(?P<frac>\d{1,2}))?",
    re.ASCII,
)


def parse_amount(text: str) -> int | None:
    """Euro cents of an amount as people type it: "1.234,50", "1 234,50",
    "1,234.50", "23,5", "23.50", "€ 12"; None when it is not an amount."""
    cleaned = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    cleaned = re.sub(r"^(€|EUR)\s*|\s*(€|EUR)$", "", cleaned, flags=re.IGNORECASE)
    match = _AMOUNT.fullmatch(cleaned)
    if match is None or (match["group"] and match["group"] == match["dec"]):
        return None
    whole = int(re.sub(r"\D", "", match["int"]))
    cents = int((match["frac"] or "0").ljust(2, "0"))
    return whole * 100 + cents


def number(value: int) -> str:
    return format_decimal(value, locale=_locale())


def decimal(value: float) -> str:
    """A figure with decimals as the reader writes it: "1,5" in Dutch and French."""
    return format_decimal(value, format="#,##0.##", locale=_locale())


def long_date(value: datetime) -> str:
    return format_date(value.astimezone(_tz()), "long", locale=_locale())


def month(period: str) -> str:
    """A settlement period "2026-11" as the reader says it: "november 2026"."""
    year, month_ = (int(part) for part in period.split("-"))
    return format_date(date(year, month_, 1), "LLLL y", locale=_locale())


def day(value: date) -> str:
    """A day in a table or on a chart axis: "zo 1 nov", "dim. 1 nov.", "Sun 1 Nov"."""
    return format_date(value, "EEE d MMM", locale=_locale())


def long_day(value: date) -> str:
    """A calendar day in full: "1 november 2026"."""
    return format_date(value, "long", locale=_locale())


def date_range(start: date, end: date) -> str:
    """A period as the reader writes it: "1–30 nov 2026", "3 oct. – 2 déc. 2026"."""
    if start == end:
        return format_date(start, "d MMM y", locale=_locale())
    return format_interval(start, end, "yMMMd", locale=_locale())


def percent(value: float) -> str:
    """A share in the locale's percent style: "18%", "18 %"."""
    return format_percent(value / 100, locale=_locale())


def percent_change(value: float) -> str:
    """A change with its sign in the locale's percent style: "+12,5%", "-8,3 %"."""
    pattern = Locale.parse(_locale()).percent_formats[None].pattern.replace("#,##0", "#,##0.0")
    return format_percent(value / 100, f"+{pattern};-{pattern}", locale=_locale())


def short_month(period: str) -> str:
    """A month on a chart axis: "dec 2025", "déc. 2025", "Dec 2025"."""
    year, month_ = (int(part) for part in period.split("-"))
    return format_date(date(year, month_, 1), "MMM y", locale=_locale())


def short_time(value: datetime) -> str:
    return format_time(value.astimezone(_tz()), "HH:mm", locale=_locale())


def duration(value: timedelta) -> str:
    """A length of time, rounded as people say it: "12 seconden", "3 minutes", "2 hours"."""
    return format_timedelta(value, threshold=1, locale=_locale())


def _tz() -> ZoneInfo:
    return ZoneInfo("Europe/Brussels")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        euro=euro, number=number, long_date=long_date, short_time=short_time, month=month,
        day=day, date_range=date_range, percent_change=percent_change, percent=percent,
        duration=duration, decimal=decimal,
    )
    app.jinja_env.globals.update(current_language=lambda: str(get_locale()), LANGUAGES=LANGUAGES)
