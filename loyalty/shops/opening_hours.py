"""Opening hours as a shop writes them on its door, read in every language.

A shop types its hours once, in its own words: "di-za 6:30-18:00, zo 7:00-12:30".
The directory shows them to a French reader as "mar.–sam. 6:30–18:00, dim.
7:00–12:30": ``parse`` reads the usual door notation (day abbreviations in Dutch,
French or English, ranges of days, one or two periods a day) and ``describe``
writes it in the reader's language with Babel's day names. Text that is not in
that notation ("op afspraak", "elke dag vanaf 10 uur") is shown as typed:
nothing the shop wrote is lost or guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from babel.dates import format_time, get_day_names

# Monday is 0, as in datetime.weekday().
DAYS = {
    "ma": 0, "maa": 0, "maandag": 0, "di": 1, "din": 1, "dinsdag": 1, "wo": 2, "woe": 2,
    "woensdag": 2, "do": 3, "don": 3, "donderdag": 3, "vr": 4, "vrij": 4, "vrijdag": 4,
    "za": 5, "zat": 5, "zaterdag": 5, "zo": 6, "zon": 6, "zondag": 6,
    "lu": 0, "lun": 0, "lundi": 0, "mar": 1, "mardi": 1, "me": 2, "mer": 2, "mercredi": 2,
    "je": 3, "jeu": 3, "jeudi": 3, "ve": 4, "ven": 4, "vendredi": 4, "sa": 5, "sam": 5,
    "samedi": 5, "dim": 6, "dimanche": 6,
    "mo": 0, "mon": 0, "monday": 0, "tu": 1, "tue": 1, "tuesday": 1, "we": 2, "wed": 2,
    "wednesday": 2, "th": 3, "thu": 3, "thursday": 3, "fr": 4, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "su": 6, "sun": 6, "sunday": 6,
}
_DAY = r"[a-zà-ÿ]{2,9}\.?"
_TIME = r"\d{1,2}(?:[:.h]\d{2}|h)?"
_PERIOD = rf"({_TIME})\s*[-–]\s*({_TIME})"
_JOIN = r"\s*(?:en|et|and|&|\+|/|,)\s*"
_GROUP = re.compile(
    rf"(?P<days>{_DAY}(?:\s*[-–]\s*{_DAY})?(?:\s*(?:,|en|et|and|&)\s*{_DAY}(?!\s*[-–]\s*{_DAY}\s*\d))*)"
    rf"\s*:?\s*(?P<periods>{_PERIOD}(?:{_JOIN}{_PERIOD})*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Hours:
    """A shop's week, and what it added in words ("op afspraak")."""

    openings: list[Opening]
    note: str | None = None


@dataclass(frozen=True)
class Opening:
    """Some days with the same hours: e.g. Tuesday to Saturday, 6:30 to 18:00."""

    days: tuple[int, ...]
    periods: tuple[tuple[time, time], ...]


def _time(text: str) -> time | None:
    parts = re.split(r"[:.h]", text)
    hour, minute = int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1] else 0
    if hour == 24 and minute == 0:
        return time(23, 59)
    if not (0 <= hour < 24 and 0 <= minute < 60):
        return None
    return time(hour, minute)


def _day(text: str) -> int | None:
    return DAYS.get(text.lower().rstrip("."))


def _days(text: str) -> tuple[int, ...] | None:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|\ben\b|\bet\b|\band\b|&)\s*", text.strip()):
        bounds = [b for b in re.split(r"\s*[-–]\s*", part) if b]
        found = [_day(b) for b in bounds]
        if not found or any(d is None for d in found) or len(found) > 2:
            return None
        first, last = found[0], found[-1]
        if first is None or last is None:
            return None
        day = first
        out.append(day)
        while day != last:
            day = (day + 1) % 7  # "za-ma": Saturday, Sunday, Monday
            out.append(day)
    return tuple(out)


def parse(text: str | None) -> Hours | None:
    """The week in ``text``, or None when it is not door notation (a note in
    brackets at the end is kept as it is)."""
    if not text or not text.strip():
        return None
    rest = text.strip()
    found: list[Opening] = []
    position = 0
    for match in _GROUP.finditer(rest):
        between = rest[position:match.start()]
        if between.strip(" ,;\n") != "":
            return None
        days = _days(match["days"])
        periods = []
        for start, end in re.findall(_PERIOD, match["periods"]):
            begin, finish = _time(start), _time(end)
            if begin is None or finish is None or finish <= begin:
                return None
            periods.append((begin, finish))
        if days is None or not periods:
            return None
        found.append(Opening(days, tuple(periods)))
        position = match.end()
    tail = rest[position:].strip(" ,;.\n")
    note = None
    if tail.startswith("(") and tail.endswith(")"):
        note, tail = tail, ""
    if not found or tail:
        return None
    return Hours(found, note)


def describe(hours: Hours, locale: str) -> str:
    """The week in the reader's language: "mar.–sam. 6:30–18:00, dim. 7:00–12:30"."""
    names = get_day_names("abbreviated", locale=locale)

    def days(group: tuple[int, ...]) -> str:
        consecutive = all((b - a) % 7 == 1 for a, b in zip(group, group[1:], strict=False))
        if len(group) > 2 and consecutive:
            return f"{names[group[0]]}–{names[group[-1]]}"
        return ", ".join(names[d] for d in group)

    def period(begin: time, end: time) -> str:
        return (f"{format_time(begin, 'H:mm', locale=locale)}–"
                f"{format_time(end, 'H:mm', locale=locale)}")

    text = ", ".join(
        f"{days(o.days)} " + " / ".join(period(b, e) for b, e in o.periods)
        for o in hours.openings
    )
    return f"{text} {hours.note}" if hours.note else text


def localised(text: str | None, locale: str) -> str | None:
    """``text`` in the reader's language when it is door notation, else as typed."""
    hours = parse(text)
    return describe(hours, locale) if hours else text


def periods_on(hours: Hours, weekday: int) -> list[tuple[time, time]]:
    """When the shop is open on a weekday (Monday 0): its periods, in order."""
    return sorted(p for o in hours.openings if weekday in o.days for p in o.periods)
