"""The page set-up of the A4 PDFs about money: a shop's monthly statement and a
company's gift-voucher invoice. One place for their page, core font, letterhead,
amount rows and the way they write euros and account numbers, so both papers look
alike and read the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

from babel.dates import format_date
from babel.numbers import format_decimal

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = "Helvetica"
AMOUNT_WIDTH = 40  # mm: the right-hand column of euro amounts


def latin(value: str) -> str:
    """The text as the PDF core fonts can write it: they speak Latin-1, so the euro
    sign is written "EUR", as Belgian bank papers do, and the thin spaces Babel
    puts in numbers become plain ones."""
    value = value.replace("\u202f", " ").replace("\u2009", " ")
    return value.encode("latin-1", "replace").decode("latin-1")


def grouped_iban(iban: str | None) -> str:
    """As on a bank card: BE71 0961 2345 6769; "-" when there is none."""
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if iban else "-"


class MoneyPdf:
    """One A4 page (more when it runs over) in the reader's language: ``translate`` is
    the pages' gettext and ``locale`` formats amounts and dates (nl_BE, fr_BE, en_IE).
    ``created_at`` is the paper's own date, so every download of it is the same."""

    def __init__(
        self,
        title: str,
        created_at: datetime,
        translate: Callable[[str], str],
        locale: str,
        *,
        bottom_margin: float | None = None,
    ) -> None:
        # Imported here: only the downloads need fpdf, not every start of the app.
        from fpdf import FPDF

        self.translate = translate
        self.locale = locale
        self.pdf: FPDF = FPDF(format="A4")
        self.pdf.set_creation_date(created_at)
        self.pdf.set_title(latin(title))
        if bottom_margin is not None:
            self.pdf.set_auto_page_break(True, margin=bottom_margin)
        self.pdf.add_page()
        self.width: float = self.pdf.epw

    def t(self, message: str, **values: object) -> str:
        return self.translate(message) % values if values else self.translate(message)

    def eur(self, cents: int) -> str:
        return "EUR " + format_decimal(cents / 100, "#,##0.00", locale=self.locale)

    def long_date(self, day: date) -> str:
        return format_date(day, "long", locale=self.locale)

    def para(self, text: str, size: int = 10, style: str = "", height: float = 5.5) -> None:
        self.pdf.set_font(FONT, style, size)
        self.pdf.multi_cell(self.width, height, latin(text), align="L", new_x="LMARGIN",
                            new_y="NEXT")

    def letterhead(self, scheme_name: str) -> None:
        """The town's name above the paper's title."""
        self.para(f"{scheme_name} - Lokaal Sparen", 10, "", 5)

    def amount_row(self, label: str, cents: int, *, bold: bool = False) -> None:
        """A label and its amount on the right, underlined."""
        self.pdf.set_font(FONT, "B" if bold else "", 10)
        self.pdf.cell(self.width - AMOUNT_WIDTH, 7, latin(label), border="B")
        self.pdf.cell(AMOUNT_WIDTH, 7, latin(self.eur(cents)), border="B", align="R",
                      new_x="LMARGIN", new_y="NEXT")

    def output(self) -> bytes:
        return bytes(self.pdf.output())
