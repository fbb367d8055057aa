"""The PDFs about money, read back with pypdf in the shop's or company's language:
a company's gift-voucher invoice, and the letterhead, amounts and account number
it shares with a shop's monthly statement."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf
from babel.support import Translations
from sqlalchemy.orm import Session

from loyalty.models import GiftVoucherOrder, Scheme
from loyalty.money import voucher_invoice, vouchers
from loyalty.money.settlement import bank_accounts, monthly, statements
from tests.factories import make_scheme
from tests.settlement_data import earn_and_redeem, make_shops

TRANSLATIONS = statements.__file__.split("/loyalty/")[0] + "/loyalty/translations"
LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_IE"}
ORDERED = datetime(2026, 11, 3, 9, tzinfo=UTC)
IBAN = "BE71096123456769"


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


def _translate(lang: str):  # type: ignore[no-untyped-def]
    return Translations.load(TRANSLATIONS, [lang]).gettext


def _town(session: Session) -> Scheme:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, IBAN, "")
    session.commit()
    return scheme


def _order(session: Session, scheme: Scheme, quantity: int = 50) -> GiftVoucherOrder:
    order = vouchers.create_order(
        session, scheme, company_name="Brasserie Zoë", vat_number="BE 0123.456.789",
        email="hr@zoe.example", quantity=quantity, amount_cents=2500, now=ORDERED,
    )
    session.commit()
    return order


def _invoice(order: GiftVoucherOrder, scheme: Scheme, lang: str) -> str:
    return _text(voucher_invoice.invoice_pdf(order, scheme, _translate(lang), LOCALES[lang]))


def test_an_unpaid_invoice_says_what_to_transfer_in_dutch(session: Session) -> None:
    scheme = _town(session)
    order = _order(session, scheme)
    text = _invoice(order, scheme, "nl")
    assert text.startswith(f"{scheme.name} - Lokaal Sparen Factuur Brasserie Zoë")
    assert "Btw-nummer: BE0123456789" in text and "hr@zoe.example" in text
    assert "Datum: 3 november 2026" in text
    # Amounts as a Belgian bank paper writes them, in the company's language.
    assert "50 cadeaubonnen van EUR 25,00 EUR 1.250,00" in text
    assert "Te betalen EUR 1.250,00" in text
    assert (f"Schrijf EUR 1.250,00 over naar BE71 0961 2345 6769 ({scheme.name}) met de "
            f"gestructureerde mededeling {vouchers.communication(order)}.") in text
    assert "Betaald op" not in text


def test_a_paid_invoice_says_when_in_french(session: Session) -> None:
    scheme = _town(session)
    order = _order(session, scheme, quantity=2)
    order.paid_at = datetime(2026, 11, 9, 15, tzinfo=UTC)
    text = _invoice(order, scheme, "fr")
    session.rollback()
    assert text.startswith(f"{scheme.name} - Lokaal Sparen Facture Brasserie Zoë")
    assert "2 chèques-cadeaux de EUR 25,00 EUR 50,00" in text
    assert "Payé le 9 novembre 2026." in text
    assert "Veuillez virer" not in text and "BE71" not in text


def test_the_statement_and_the_invoice_share_their_letterhead_and_amounts(
    session: Session,
) -> None:
    scheme = _town(session)
    debtor, taker = make_shops(session, scheme, 2)
    session.commit()
    for day in range(10):  # a debtor that gave EUR 1.250,00 of points, all redeemed
        earn_and_redeem(session, scheme, debtor, taker, 2_500,
                        datetime(2025, 3, 2 + 3 * day, 10, tzinfo=UTC))
    locked = monthly.settle(session, scheme, "2025-03", ORDERED).settlement
    session.commit()
    st = statements.statement(session, locked, debtor.id)
    order = _order(session, scheme)
    for lang, owed in (("nl", "EUR 1.250,00"), ("fr", "EUR 1 250,00"), ("en", "EUR 1,250.00")):
        statement = _text(statements.statement_pdf(st, _translate(lang), LOCALES[lang]))
        invoice = _invoice(order, scheme, lang)
        for text in (statement, invoice):
            assert text.startswith(f"{scheme.name} - Lokaal Sparen ")
            assert owed in text and "BE71 0961 2345 6769" in text
            assert "€" not in text and "?" not in text  # the core fonts' Latin-1 only
