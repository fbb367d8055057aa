"""Asking shops that owe money after a settlement to pay it, by e-mail, once."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from babel.dates import format_date
from sqlalchemy.orm import Session

from loyalty.infra import mail
from loyalty.models import (
    Merchant,
    Scheme,
    Settlement,
    SettlementLine,
)
from loyalty.money.settlement.periods import format_reference, parse_period
from loyalty.money.settlement.sepa import euros

log = logging.getLogger(__name__)


def payment_request_text(scheme: Scheme, merchant: Merchant, line: SettlementLine,
                         period: str) -> tuple[str, str]:
    """(subject, body) of the payment request, Dutch first, then French and English."""
    amount = euros(line.collect_cents).replace(".", ",")
    iban = scheme.iban or "-"
    # The debt's own reference, as the settlement table, the statement and the
    # SEPA file show it: one reference per debt. The municipality records the
    # transfer with it (funding.merchant_for_communication finds the shop) as
    # prepaid money, which the next settlement applies to this debt.
    ref = format_reference(line.reference)
    subject = f"Lokaal Sparen {period}: te betalen / à payer EUR {amount}"
    # The month as each reader says it: "maart 2025", "mars 2025", "March 2025".
    year, number = parse_period(period)
    month = {lang: format_date(date(year, number, 1), "LLLL y", locale=locale)
             for lang, locale in (("nl", "nl_BE"), ("fr", "fr_BE"), ("en", "en_IE"))}
    # The shop's name is its own choice: never the first words of a message
    # (an invented name would read as the platform speaking), always quoted.
    name = f"“{merchant.name}”"
    body = (
        "Beste,\n\n"
        f"Na de afrekening van {month['nl']} is uw zaak {name} EUR {amount} verschuldigd aan "
        f"{scheme.name} (punten gegeven min punten ontvangen, na uw voorschot).\n"
        f"Gelieve over te schrijven naar {iban} met de gestructureerde mededeling {ref}.\n\n"
        "Bonjour,\n\n"
        f"Après le décompte de {month['fr']}, votre commerce {name} doit EUR {amount} à "
        f"{scheme.name}.\n"
        f"Veuillez virer ce montant sur {iban} avec la communication structurée {ref}.\n\n"
        "Hello,\n\n"
        f"After the settlement of {month['en']} your shop {name} owes EUR {amount} to "
        f"{scheme.name}.\n"
        f"Please transfer it to {iban} with the structured reference {ref}.\n\n"
        "Lokaal Sparen\n"
    )
    return subject, body


def request_payments(
    session: Session, settlement: Settlement, mail_config: Mapping[str, Any], now: datetime
) -> tuple[int, int]:
    """E-mail each shop that still owes money after its prepaid balance, once.

    Returns (sent, failed). A line is marked by a conditional UPDATE before its
    message goes out, so two runs do not both send; a failed send unmarks it so
    that the next run (``loyalty settle`` again) tries again.
    """
    scheme = session.get_one(Scheme, settlement.scheme_id)
    due = session.scalars(
        sa.select(SettlementLine).where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.collect_cents > 0,
            SettlementLine.payment_requested_at.is_(None),
        ).order_by(SettlementLine.merchant_id)
    ).all()
    sent = failed = 0
    for line in due:
        claimed = session.execute(
            sa.update(SettlementLine)
            .where(SettlementLine.id == line.id, SettlementLine.payment_requested_at.is_(None))
            .values(payment_requested_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            continue
        merchant = session.get_one(Merchant, line.merchant_id)
        subject, body = payment_request_text(scheme, merchant, line, settlement.period)
        try:
            mail.send(mail_config, merchant.email, subject, body)
        except (OSError, smtplib.SMTPException):
            log.exception("payment request to shop %s failed", merchant.id)
            session.execute(
                sa.update(SettlementLine)
                .where(SettlementLine.id == line.id)
                .values(payment_requested_at=None)
                .execution_options(synchronize_session=False)
            )
            failed += 1
        else:
            sent += 1
    session.flush()
    return sent, failed
