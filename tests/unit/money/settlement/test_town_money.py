"""Town money in the monthly settlement: a shop's statement shows the points' discount
and the credit (euros) it took apart, and a town service is never paid out."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pypdf
from babel.support import Translations
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.models import AccountKind, Merchant, PayoutMethod, Scheme, Wallet
from loyalty.money import accounts, grants, ledger
from loyalty.money.settlement import bank_accounts, monthly, statements
from loyalty.shoppers import wallets
from loyalty.shops import onboarding
from loyalty.spending import redemptions
from tests.factories import make_scheme
from tests.settlement_data import iban_for, make_shops

TRANSLATIONS = statements.__file__.split("/loyalty/")[0] + "/loyalty/translations"
LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_IE"}
AT = datetime(2025, 3, 12, 10, tzinfo=UTC)
NOW = datetime(2025, 4, 3, 12, tzinfo=UTC)


def _text(pdf: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return len(reader.pages), " ".join(reader.pages[0].extract_text().split())


def _wallet_with_credit(session: Session, scheme: Scheme, issuer: Merchant) -> Wallet:
    """A wallet with 20,00 credit from a grant and the points of a 200 euro sale."""
    wallet = wallets.create_wallet(session, scheme).wallet
    grant = grants.create_grant(
        session, scheme, name="Geboortepremie", amount_cents=2000, budget_cents=20_000,
        starts_at=AT - timedelta(days=1), ends_at=AT + timedelta(days=10), who="anyone", now=AT,
    )
    grants.claim(session, grant, wallet, AT)
    sale = claims.create_claim(session, issuer, 20_000, AT)
    claims.claim_points(session, sale.token, wallet, AT)
    return wallet


def _spend(session: Session, wallet: Wallet, shop: Merchant, points: int, cents: int) -> None:
    code = redemptions.create_redemption(session, wallet, points, AT + timedelta(hours=1),
                                         euro_cents=cents).code
    redemptions.confirm_redemption(session, code, shop, AT + timedelta(hours=1))


def test_the_statement_shows_the_points_and_the_credit_apart(session: Session) -> None:
    scheme = make_scheme(session, point_value_cents=5)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, taker = make_shops(session, scheme, 2)
    bank_accounts.set_merchant_bank_account(session, taker, iban_for(4), "GEBABEBB", "Taker bv")
    wallet = _wallet_with_credit(session, scheme, issuer)
    _spend(session, wallet, taker, 100, 750)  # 5,00 for points + 7,50 credit
    locked = monthly.settle(session, scheme, "2025-03", NOW).settlement
    session.commit()

    st = statements.statement(session, locked, taker.id)
    assert (st.line.redeemed_cents, st.points_redeemed_cents, st.euros_cents) == (1250, 500, 750)
    rows = dict(r[:2] for r in csv.reader(io.StringIO(statements.statement_csv(st))) if r)
    assert (rows["redeemed"], rows["redeemed_points"], rows["redeemed_euros"]) == (
        "12.50", "5.00", "7.50")
    translate = Translations.load(TRANSLATIONS, ["nl"]).gettext
    _pages, text = _text(statements.statement_pdf(st, translate, LOCALES["nl"]))
    assert ("Punten ingeruild in uw zaak (100 punten): hun waarde, verschuldigd aan u "
            "EUR 5,00") in text
    assert "Tegoed (euro) besteed in uw zaak: verschuldigd aan u EUR 7,50" in text
    assert ledger.verify(session).ok


def test_a_town_service_takes_points_and_credit_and_is_never_paid_out(
    session: Session,
) -> None:
    scheme = make_scheme(session, point_value_cents=5, monthly_fee_cents=300)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, library = make_shops(session, scheme, 2)
    # Even with a bank account known, nothing is transferred to the municipality's library.
    bank_accounts.set_merchant_bank_account(session, library, iban_for(6), "GEBABEBB", "Gemeente")
    onboarding.set_town_service(session, library, True, None, now=AT)
    wallet = _wallet_with_credit(session, scheme, issuer)
    municipality = accounts.scheme_account(session, scheme.id, AccountKind.MUNICIPALITY)
    before = ledger.balance(session, municipality.id)  # after funding the grant
    _spend(session, wallet, library, 40, 500)  # 2,00 for points + 5,00 credit
    locked = monthly.settle(session, scheme, "2025-03", NOW).settlement
    session.commit()

    line = next(x for x in monthly.lines_of(session, locked.id) if x.merchant_id == library.id)
    assert (line.redeemed_cents, line.fees_cents, line.payout_cents, line.collect_cents) == (
        700, 0, 0, 0)
    assert line.payout_method == PayoutMethod.NONE
    assert monthly.euros_redeemed(session, locked.id)[library.id] == 500
    assert library.name not in (locked.sepa_xml or "")
    position = accounts.merchant_account(session, scheme.id, library.id,
                                         AccountKind.MERCHANT_POSITION)
    assert ledger.balance(session, position.id) == 0  # nothing left open, nothing carried
    assert ledger.balance(session, municipality.id) - before == 700
    st = statements.statement(session, locked, library.id)
    rows = dict(r[:2] for r in csv.reader(io.StringIO(statements.statement_csv(st))) if r)
    assert rows["payout_method"] == "town_service" and rows["payout"] == "0.00"
    translate = Translations.load(TRANSLATIONS, ["nl"]).gettext
    _pages, text = _text(statements.statement_pdf(st, translate, LOCALES["nl"]))
    assert "Een dienst van de gemeente" in text
    assert ledger.verify(session).ok
