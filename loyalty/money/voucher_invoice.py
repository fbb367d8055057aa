"""A company's order of gift vouchers as a PDF invoice, like the shops' statements."""

from __future__ import annotations

from collections.abc import Callable

from babel.dates import format_date
from babel.numbers import format_decimal

from loyalty.models import GiftVoucherOrder, Scheme
from loyalty.money import vouchers


def _l(text: str) -> str:
    """Marks a text for translation; ``invoice_pdf`` translates it when it writes."""
    return text


TITLE = _l("Invoice")
DATE = _l("Date: %(date)s")
VAT = _l("VAT number: %(vat)s")
LINE = _l("%(count)s gift vouchers of %(amount)s")
TOTAL = _l("Total to pay")
NO_VAT = _l("Gift vouchers are a means of payment: no VAT is charged on them.")
PAY = _l("Please transfer %(amount)s to %(iban)s (%(name)s) with the structured "
         "communication %(communication)s.")
CODES = _l("Once the municipality receives your transfer, we e-mail you the link to the "
           "codes.")
PAID = _l("Paid on %(date)s.")


def invoice_pdf(
    order: GiftVoucherOrder, scheme: Scheme, translate: Callable[[str], str], locale: str
) -> bytes:
    """The invoice in the company's language: ``translate`` is the pages' gettext and
    ``locale`` formats amounts and dates (nl_BE, fr_BE, en_IE)."""
    from fpdf import FPDF

    def t(message: str, **values: object) -> str:
        return translate(message) % values if values else translate(message)

    def latin(value: str) -> str:
        # The PDF core fonts speak Latin-1: the euro sign is written "EUR".
        value = value.replace("\u202f", " ").replace("\u2009", " ")
        return value.encode("latin-1", "replace").decode("latin-1")

    def eur(cents: int) -> str:
        return "EUR " + format_decimal(cents / 100, "#,##0.00", locale=locale)

    iban = scheme.iban or "-"
    pdf = FPDF(format="A4")
    pdf.set_creation_date(order.created_at)
    pdf.set_title(latin(f"{scheme.name} {vouchers.communication(order)}"))
    pdf.add_page()
    width = pdf.epw

    def para(text: str, size: int = 10, style: str = "", height: float = 5.5) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, height, latin(text), align="L", new_x="LMARGIN", new_y="NEXT")

    para(f"{scheme.name} - Lokaal Sparen", 10, "", 5)
    para(t(TITLE), 18, "B", 10)
    para(order.company_name, 12, "B", 7)
    para(t(VAT, vat=order.vat_number))
    para(order.email)
    para(t(DATE, date=format_date(order.created_at.date(), "long", locale=locale)))
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(width - 40, 7, latin(t(LINE, count=order.quantity, amount=eur(order.amount_cents))),
             border="B")
    pdf.cell(40, 7, latin(eur(order.total_cents)), border="B", align="R", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width - 40, 7, latin(t(TOTAL)), border="B")
    pdf.cell(40, 7, latin(eur(order.total_cents)), border="B", align="R", new_x="LMARGIN",
             new_y="NEXT")
    para(t(NO_VAT), 9, "I")
    pdf.ln(3)
    if order.paid_at is not None:
        para(t(PAID, date=format_date(order.paid_at.date(), "long", locale=locale)), 11, "B")
    else:
        grouped = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        para(t(PAY, amount=eur(order.total_cents), iban=grouped, name=scheme.name,
               communication=vouchers.communication(order)), 11, "B", 6)
        para(t(CODES))
    return bytes(pdf.output())
