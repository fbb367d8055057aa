"""Stripe events for a shop, and reading what the ledger credited it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import LedgerTransaction, Merchant, Prepayment
from loyalty.money import funding
from tests.stripe_stub import checkout_session, event

SECRET = "whsec_test_webhook_secret"


def paid_session_event(
    merchant: Merchant,
    amount_cents: int = 25_00,
    event_type: str = "checkout.session.completed",
    **fields: Any,
) -> dict[str, Any]:
    """The event Stripe sends when a shop has paid a top-up Checkout Session."""
    metadata = {"merchant_id": str(merchant.id), "scheme_id": str(merchant.scheme_id)}
    return event(
        event_type,
        checkout_session(
            amount_cents,
            metadata=metadata,
            client_reference_id=funding.client_reference(merchant),
            **fields,
        ),
    )


def prepaid(session: Session, merchant: Merchant) -> int:
    """The shop's prepaid balance as committed now."""
    session.rollback()
    return funding.prepaid_balance(session, merchant)


def prepayment_rows(session: Session, merchant: Merchant) -> list[Prepayment]:
    session.rollback()
    return list(
        session.scalars(sa.select(Prepayment).where(Prepayment.merchant_id == merchant.id))
    )


def prepayment_transactions(session: Session, merchant: Merchant) -> int:
    """Ledger transactions of kind prepayment touching the shop's accounts."""
    session.rollback()
    ids = [p.transaction_id for p in prepayment_rows(session, merchant)]
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == funding.LEDGER_KIND, LedgerTransaction.id.in_(ids))
        )
        or 0
    )
