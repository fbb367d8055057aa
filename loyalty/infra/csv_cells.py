"""CSV files that a spreadsheet opens as data, never as formulas.

A shop names itself; a spreadsheet runs a cell such as ``=HYPERLINK(...)`` as a
formula when a municipality opens the export. Every CSV the system writes goes
through ``Writer``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO

# What a spreadsheet may take for the start of a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Amounts and counts written as text ("-15.00") are figures, not formulas.
NUMBER = re.compile(r"-?\d+([.,]\d+)?")


def cell(value: object) -> object:
    """``value``, with a ``'`` before text that a spreadsheet would run as a formula;
    numbers (also negative ones, as numbers or as text) stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


class Writer:
    """``csv.writer`` whose every cell goes through ``cell``."""

    def __init__(self, out: IO[str], lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([cell(value) for value in row])


# Spreadsheet files for the reader's Excel: in Belgium (Dutch and French) Excel
# splits a CSV on ";" and reads "12,50" as a number; an English one uses ","
# and "12.50". A byte-order mark tells Excel the file is UTF-8 ("Sint-Gillis-Waas
# – De Klinge", "€" stay intact).
BOM = "\ufeff"
SEPARATORS = {"nl": (";", ","), "fr": (";", ","), "en": (",", ".")}


class SpreadsheetWriter(Writer):
    """A ``Writer`` in the conventions of the reader's Excel (see SEPARATORS)."""

    def __init__(self, out: IO[str], lang: str) -> None:
        self.delimiter, self.decimal_mark = SEPARATORS.get(lang, SEPARATORS["nl"])
        out.write(BOM)
        self._writer = csv.writer(out, delimiter=self.delimiter, lineterminator="\r\n")

    def number(self, value: float | None, places: int = 0) -> str:
        """A figure as this Excel reads it: no thousands separator, its decimal mark."""
        if value is None:
            return ""
        return f"{value:.{places}f}".replace(".", self.decimal_mark)

    def euros(self, cents: int | None) -> str:
        return "" if cents is None else self.number(cents / 100, 2)
