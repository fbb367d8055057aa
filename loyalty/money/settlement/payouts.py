"""Paying shops with a connected Stripe account by Connect transfer, exactly once."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import (
    Merchant,
    PayoutMethod,
    Settlement,
    SettlementLine,
)
from loyalty.money import funding

log = logging.getLogger(__name__)


def stripe_settings(config: Mapping[str, Any]) -> funding.StripeSettings | None:
    """Stripe's settings from the app's configuration; None without STRIPE_SECRET_KEY."""
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        return None
    return funding.StripeSettings(key, config.get("STRIPE_API_BASE"))


def transfer_idempotency_key(line: SettlementLine) -> str:
    """One key per shop, settlement and refused attempt: Stripe makes one transfer
    however often we ask after a crash or a lost answer."""
    return (
        f"lokaal-sparen-settlement-{line.settlement_id}-merchant-{line.merchant_id}"
        f"-attempt-{line.stripe_attempt}"
    )


def pay_by_stripe(
    session: Session, settlement: Settlement, settings: funding.StripeSettings | None
) -> tuple[int, int]:
    """Make the Connect transfer of every Stripe payout of a locked month not yet made.

    Returns (made, failed). Each transfer carries an idempotency key of its
    settlement and shop, so a retry after a failure or a crash (a rerun of
    ``loyalty settle``) never pays twice; the transfer id is stored by a
    conditional UPDATE. Without Stripe settings nothing is sent.
    """
    due = session.scalars(
        sa.select(SettlementLine).where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.payout_method == PayoutMethod.STRIPE,
            SettlementLine.stripe_transfer_id.is_(None),
        ).order_by(SettlementLine.merchant_id)
    ).all()
    if settings is None:
        return 0, len(due)
    import stripe

    client = settings.client()
    made = failed = 0
    for line in due:
        merchant = session.get_one(Merchant, line.merchant_id)
        params: Any = {
            "amount": line.payout_cents,
            "currency": "eur",
            "destination": merchant.stripe_account_id,
            "transfer_group": f"settlement-{settlement.id}",
            "description": f"Lokaal Sparen {settlement.period}",
            "metadata": {
                "settlement_id": str(settlement.id),
                "period": settlement.period,
                "merchant_id": str(merchant.id),
                "reference": line.reference,
            },
        }
        try:
            transfer = client.v1.transfers.create(
                params=params, options={"idempotency_key": transfer_idempotency_key(line)}
            )
        except stripe.StripeError as error:
            log.exception("Stripe transfer to shop %s failed", merchant.id)
            failed += 1
            if error.http_status is not None:
                # Stripe answered with a refusal and replays it for this key:
                # the next try (once the shop's account is fixed) needs a new key.
                session.execute(
                    sa.update(SettlementLine)
                    .where(
                        SettlementLine.id == line.id,
                        SettlementLine.stripe_attempt == line.stripe_attempt,
                    )
                    .values(stripe_attempt=line.stripe_attempt + 1)
                    .execution_options(synchronize_session=False)
                )
            continue
        session.execute(
            sa.update(SettlementLine)
            .where(SettlementLine.id == line.id, SettlementLine.stripe_transfer_id.is_(None))
            .values(stripe_transfer_id=transfer.id)
            .execution_options(synchronize_session=False)
        )
        made += 1
    session.flush()
    return made, failed
