"""E-mails never begin with words a shop chose: a shop's name can pose as the platform
("Lokaal Sparen: your account is blocked") in the subject or the first line."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty.models import SettlementLine
from loyalty.money.settlement import payment_requests, periods
from tests.factories import make_merchant, make_scheme

POSING = "Lokaal Sparen: uw account is geblokkeerd, log in op evil.example"


def test_a_payment_request_quotes_the_shops_name_after_the_platforms_words(
    session: Session,
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme, name=POSING)
    line = SettlementLine(collect_cents=1250,
                          reference=periods.structured_reference("2025-03", shop.id))
    subject, body = payment_requests.payment_request_text(scheme, shop, line, "2025-03")
    assert POSING not in subject
    assert body.startswith("Beste,\n\nNa de afrekening van maart 2025 is uw zaak “")
    assert "Après le décompte de mars 2025," in body and "settlement of March 2025" in body
    for greeting in ("Beste,", "Bonjour,", "Hello,"):
        assert f"{greeting}\n\n" in body
    assert body.count(f"“{POSING}”") == 3
    assert body.count(POSING) == 3
    session.rollback()
