"""Opening hours as a shop writes them on its door, read in the reader's language."""

from __future__ import annotations

from datetime import time

import pytest

from loyalty.shops import opening_hours


@pytest.mark.parametrize(
    ("typed", "fr", "en"),
    [
        ("di-za 6:30-18:00, zo 7:00-12:30",
         "mar.–sam. 6:30–18:00, dim. 7:00–12:30", "Tue–Sat 6:30–18:00, Sun 7:00–12:30"),
        ("ma-vr 8:30-12:30 en 13:30-18:30, za 9:00-12:00",
         "lun.–ven. 8:30–12:30 / 13:30–18:30, sam. 9:00–12:00",
         "Mon–Fri 8:30–12:30 / 13:30–18:30, Sat 9:00–12:00"),
        ("do-ma 12:00-14:00 en 18:00-21:30",  # across the weekend
         "jeu.–lun. 12:00–14:00 / 18:00–21:30", "Thu–Mon 12:00–14:00 / 18:00–21:30"),
        ("lun-ven 9h-18h", "lun.–ven. 9:00–18:00", "Mon–Fri 9:00–18:00"),
        ("ma, wo en vr 9:00-12:00", "lun., mer., ven. 9:00–12:00", "Mon, Wed, Fri 9:00–12:00"),
        ("di-vr 9:00-18:00 (ook op afspraak)",
         "mar.–ven. 9:00–18:00 (ook op afspraak)", "Tue–Fri 9:00–18:00 (ook op afspraak)"),
    ],
)
def test_door_notation_is_read_in_every_language(typed: str, fr: str, en: str) -> None:
    assert opening_hours.localised(typed, "fr_BE") == fr
    assert opening_hours.localised(typed, "en_IE") == en


@pytest.mark.parametrize(
    "typed", ["op afspraak", "elke dag vanaf 10:00, di gesloten", "ma-vr 18:00-9:00",
              "ma-vr 25:00-26:00", "xx-yy 9:00-12:00", "", "di-za 9:00-18:00 en iets"],
)
def test_anything_else_is_shown_as_typed(typed: str) -> None:
    assert opening_hours.parse(typed) is None
    assert opening_hours.localised(typed, "fr_BE") == typed


def test_the_periods_of_a_weekday() -> None:
    hours = opening_hours.parse("di-za 8:30-12:30 en 13:30-18:00, zo 8:00-12:00")
    assert hours is not None
    assert opening_hours.periods_on(hours, 0) == []  # closed on Monday
    assert opening_hours.periods_on(hours, 2) == [(time(8, 30), time(12, 30)),
                                                  (time(13, 30), time(18, 0))]
    assert opening_hours.periods_on(hours, 6) == [(time(8), time(12))]
