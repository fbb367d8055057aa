"""A company's order of gift vouchers as a PDF invoice, like the shops' statements."""

from __future__ import annotations

from collections.abc import Callable

from loyalty.models import GiftVoucherOrder, Scheme
from loyalty.money import vouchers
from loyalty.money.pdf_layout import MoneyPdf, grouped_iban


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
    doc = MoneyPdf(f"{scheme.name} {vouchers.communication(order)}", order.created_at,
                   translate, locale)
    t, eur, para = doc.t, doc.eur, doc.para
    doc.letterhead(scheme.name)
    para(t(TITLE), 18, "B", 10)
    para(order.company_name, 12, "B", 7)
    para(t(VAT, vat=order.vat_number))
    para(order.email)
    para(t(DATE, date=doc.long_date(order.created_at.date())))
    doc.pdf.ln(3)
    doc.amount_row(t(LINE, count=order.quantity, amount=eur(order.amount_cents)),
                   order.total_cents)
    doc.amount_row(t(TOTAL), order.total_cents, bold=True)
    para(t(NO_VAT), 9, "I")
    doc.pdf.ln(3)
    if order.paid_at is not None:
        para(t(PAID, date=doc.long_date(order.paid_at.date())), 11, "B")
    else:
        para(t(PAY, amount=eur(order.total_cents), iban=grouped_iban(scheme.iban),
               name=scheme.name, communication=vouchers.communication(order)), 11, "B", 6)
        para(t(CODES))
    return doc.output()
