"""Read model of a wallet for the API and the wallet page."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty import wallets
from loyalty.models import (
    Claim,
    ClaimStatus,
    Merchant,
    Redemption,
    RedemptionStatus,
    Scheme,
    Wallet,
)

HISTORY_LIMIT = 50


def wallet_summary(session: Session, wallet: Wallet) -> dict[str, Any]:
    """Balance, open holds and the latest earns and spends, newest first."""
    scheme = session.get_one(Scheme, wallet.scheme_id)
    balance = wallets.points_balance(session, wallet)
    holds = session.scalars(
        sa.select(Redemption)
        .where(Redemption.wallet_id == wallet.id, Redemption.status == RedemptionStatus.HELD)
        .order_by(Redemption.created_at)
    ).all()
    earns = session.execute(
        sa.select(Claim.claimed_at, Claim.points, Merchant.name)
        .join(Merchant, Merchant.id == Claim.merchant_id)
        .where(Claim.wallet_id == wallet.id, Claim.status == ClaimStatus.CLAIMED)
        .order_by(Claim.claimed_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    spends = session.execute(
        sa.select(Redemption.finished_at, Redemption.points, Merchant.name)
        .join(Merchant, Merchant.id == Redemption.merchant_id)
        .where(Redemption.wallet_id == wallet.id, Redemption.status == RedemptionStatus.CONFIRMED)
        .order_by(Redemption.finished_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    history = [
        {"at": at, "kind": "earn", "points": points, "merchant": name, "status": "done"}
        for at, points, name in earns
    ] + [
        {"at": at, "kind": "spend", "points": -points, "merchant": name, "status": "done"}
        for at, points, name in spends
    ]
    history.sort(key=lambda row: row["at"], reverse=True)  # type: ignore[arg-type, return-value]
    return {
        "balance": balance,
        "balance_value_cents": balance * scheme.point_value_cents,
        "point_value_cents": scheme.point_value_cents,
        "held_points": sum(h.points for h in holds),
        "holds": [{"code": h.code, "points": h.points, "expires_at": h.expires_at} for h in holds],
        "stamp_cards": [],
        "history": history[:HISTORY_LIMIT],
    }
