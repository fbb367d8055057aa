"""A shop's statement PDF as a shopkeeper reads it: page 1 in their language says
what was given, redeemed and charged, what is paid or owed, when, to which
account and with which reference; then one line per day; the postings are in
the CSV. Read back with pypdf, translated with the project's own catalogues."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pypdf
import pytest
from babel.support import Translations
from sqlalchemy.orm import Session

from loyalty.earning import claims, corrections
from loyalty.models import Merchant, Role, Scheme, Settlement
from loyalty.money.settlement import bank_accounts, monthly, periods, statements
from loyalty.shoppers import wallets
from tests.factories import make_scheme, make_user
from tests.settlement_data import earn_and_redeem, iban_for, make_shops

TRANSLATIONS = statements.__file__.split("/loyalty/")[0] + "/loyalty/translations"
LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_IE"}
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)  # a Friday


def _text(pdf: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return len(reader.pages), " ".join(reader.pages[0].extract_text().split())


def _pdf(session: Session, settlement_id: int, shop: Merchant, lang: str) -> tuple[int, str]:
    translate = Translations.load(TRANSLATIONS, [lang]).gettext
    locked = session.get_one(Settlement, settlement_id)
    st = statements.statement(session, locked, shop.id)
    return _text(statements.statement_pdf(st, translate, LOCALES[lang]))


@pytest.fixture
def month(session: Session) -> tuple[Scheme, Merchant, Merchant, int]:
    """A debtor that gave 10 x 30 points on ten days, a taker with a bank account
    where they were all redeemed."""
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    debtor, taker = make_shops(session, scheme, 2)
    bank_accounts.set_merchant_bank_account(session, taker, iban_for(4), "GEBABEBB", "Taker bv")
    session.commit()
    for day in range(10):
        earn_and_redeem(session, scheme, debtor, taker, 30,
                        datetime(2025, 3, 2 + 3 * day, 10, tzinfo=UTC))
    settled = monthly.settle(session, scheme, "2025-03", NOW)
    session.commit()
    return scheme, debtor, taker, settled.settlement.id


def test_page_one_tells_a_debtor_what_to_pay_in_dutch(session: Session, month) -> None:  # type: ignore[no-untyped-def]
    scheme, debtor, _taker, settlement_id = month
    pages, text = _pdf(session, settlement_id, debtor, "nl")
    line = next(x for x in monthly.lines_of(session, settlement_id) if x.merchant_id == debtor.id)
    reference = periods.format_reference(line.reference)
    assert pages == 1
    assert "Afrekening maart 2025" in text
    assert "Periode: 1 maart 2025 tot en met 31 maart 2025" in text
    assert "Punten die u gaf (300 punten)" in text and "EUR -15,00" in text
    assert (f"U bent EUR 15,00 verschuldigd. Gelieve dat over te schrijven op "
            f"BE71 0961 2345 6769 met de gestructureerde mededeling {reference}.") in text
    # One line per day with activity, no posting and no English key.
    assert len(re.findall(r"\b\d{1,2}/03/2025\b", text)) == 10
    for english in ("issued", "to_collect", "payout_method", "earn ", "Statement"):
        assert english not in text


def test_page_one_tells_a_shop_when_it_is_paid_in_french(session: Session, month) -> None:  # type: ignore[no-untyped-def]
    _scheme, _debtor, taker, settlement_id = month
    pages, text = _pdf(session, settlement_id, taker, "fr")
    assert pages == 1 and "Décompte mars 2025" in text
    assert "Période : du 1 mars 2025 au 31 mars 2025" in text
    assert "Points échangés dans votre commerce (300 points)" in text
    # Settled on Friday 27 November: the transfer is asked for Monday 30 November.
    assert f"Nous vous payons EUR 15,00 par virement sur {_grouped(iban_for(4))}" in text
    assert "30 novembre 2026" in text


def test_a_busy_month_stays_short(session: Session) -> None:
    scheme = make_scheme(session)
    debtor, taker = make_shops(session, scheme, 2)
    session.commit()
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    for n in range(240):  # eight sales a day for thirty days
        earn_and_redeem(session, scheme, debtor, taker, 10, start + timedelta(hours=3 * n))
    settled = monthly.settle(session, scheme, "2025-03", NOW)
    session.commit()
    pages, text = _pdf(session, settled.settlement.id, debtor, "en")
    assert pages <= 2  # was one line per posting: 240 lines, five pages
    assert "Statement March 2025" in text and "EUR -120.00" in text


def _grouped(iban: str) -> str:
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


def test_a_corrected_sale_is_netted_and_stated(session: Session) -> None:
    """A sale taken back lowers what the shop gave, on page 1 and in the CSV."""
    scheme = make_scheme(session)
    (shop,) = make_shops(session, scheme, 1)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    at = datetime(2025, 3, 10, 10, tzinfo=UTC)
    kept, wrong = (claims.create_claim(session, shop, cents, at).claim for cents in (2_000, 9_000))
    for claim in (kept, wrong):
        claims.collect(session, claim, wallets.create_wallet(session, scheme).wallet, at)
    corrections.correct_sale(session, wrong, shop, owner, "90 for 9", at + timedelta(days=1))
    session.commit()
    locked = monthly.settle(session, scheme, "2025-03", NOW).settlement
    session.commit()
    (line,) = monthly.lines_of(session, locked.id)
    assert line.issued_cents == 20 * scheme.point_value_cents  # only the kept sale
    _pages, text = _pdf(session, locked.id, shop, "nl")
    assert "Gecorrigeerde verkopen: 1; punten teruggenomen: 90 (EUR 4,50)" in text
    assert "Punten die u gaf (20 punten)" in text
    csv_text = statements.statement_csv(statements.statement(session, locked, shop.id))
    assert ",sale_correction," in csv_text
