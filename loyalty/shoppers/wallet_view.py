"""Read model of a wallet for the API and the wallet page."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import stamps
from loyalty.models import (
    Claim,
    ClaimStatus,
    ExpiryNotice,
    Merchant,
    Redemption,
    RedemptionStatus,
    SaleCorrection,
    Scheme,
    Wallet,
)
from loyalty.money import euros
from loyalty.shoppers import expiry, wallets

HISTORY_LIMIT = 50


def wallet_summary(
    session: Session, wallet: Wallet, now: datetime | None = None
) -> dict[str, Any]:
    """Balance, open holds and the latest earns and spends, newest first."""
    scheme = session.get_one(Scheme, wallet.scheme_id)
    now = now or datetime.now(UTC)
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
    expired = session.execute(
        sa.select(ExpiryNotice.created_at, ExpiryNotice.points)
        .where(ExpiryNotice.wallet_id == wallet.id, ExpiryNotice.kind == "expired")
        .order_by(ExpiryNotice.created_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    corrected = session.execute(
        sa.select(SaleCorrection.created_at, SaleCorrection.points_taken_back,
                  SaleCorrection.points_not_recovered, Merchant.name)
        .join(Merchant, Merchant.id == SaleCorrection.merchant_id)
        .where(SaleCorrection.wallet_id == wallet.id)
        .order_by(SaleCorrection.created_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    history = [
        {"at": at, "kind": "earn", "points": points, "merchant": name, "status": "done"}
        for at, points, name in earns
    ] + [
        {"at": at, "kind": "spend", "points": -points, "merchant": name, "status": "done"}
        for at, points, name in spends
    ] + [
        {"at": at, "kind": "expired", "points": -points, "merchant": None, "status": "done"}
        for at, points in expired
    ] + [
        # A sale the shop took back; what was already spent stays the shop's loss.
        {"at": at, "kind": "corrected", "points": -taken, "merchant": name, "status": "done",
         "not_recovered": not_recovered}
        for at, taken, not_recovered, name in corrected
    ]
    history.sort(key=lambda row: row["at"], reverse=True)  # type: ignore[arg-type, return-value]
    return {
        "balance": balance,
        "balance_value_cents": balance * scheme.point_value_cents,
        "point_value_cents": scheme.point_value_cents,
        "held_points": sum(h.points for h in holds),
        "holds": [
            {"code": h.code, "points": h.points, "euro_cents": h.euro_cents,
             "discount_cents": h.discount_cents, "expires_at": h.expires_at}
            for h in holds
        ],
        "stamp_cards": [asdict(card) for card in stamps.wallet_cards(session, wallet)],
        "vouchers": [
            {"id": v.id, "reward": reward, "merchant": shop, "expires_at": v.expires_at}
            for v, reward, shop in stamps.vouchers_of(session, wallet, now)
        ],
        "expiring_soon": expiring_soon(session, wallet, scheme, now),
        "history": history[:HISTORY_LIMIT],
        "euro_cents": euros.balance(session, wallet),
        "euro_parts": [asdict(part) for part in euros.parts(session, wallet)],
    }


def expiring_soon(
    session: Session, wallet: Wallet, scheme: Scheme, now: datetime, days: int = 30
) -> int:
    """Points that expire within ``days``, oldest used first (FIFO: see loyalty.shoppers.expiry)."""
    return expiry.old_points(session, wallet, expiry.cutoff(scheme, now, days))


def export_data(session: Session, wallet: Wallet) -> dict[str, Any]:
    """Everything the platform keeps about a wallet, for the shopper's download."""
    claims = session.execute(
        sa.select(Claim.claimed_at, Claim.amount_cents, Claim.points, Merchant.name)
        .join(Merchant, Merchant.id == Claim.merchant_id)
        .where(Claim.wallet_id == wallet.id)
        .order_by(Claim.claimed_at)
    ).all()
    spends = session.execute(
        sa.select(Redemption, Merchant.name)
        .outerjoin(Merchant, Merchant.id == Redemption.merchant_id)
        .where(Redemption.wallet_id == wallet.id)
        .order_by(Redemption.created_at)
    ).all()
    return {
        "wallet": {
            "created_at": wallet.created_at.isoformat(),
            "email": wallet.email,
            "statistics_consent": wallet.stats_consent,
            "home_postcode": wallet.home_postcode,
            "home_village": wallet.home_village,
            "age_band": wallet.age_band,
            # The number of the card QR the till scans, once the wallet showed it.
            "card_number": wallet.card_number,
            # The same phone's wallets of other towns, which one recovery opens too.
            "linked_towns": [
                session.get_one(Scheme, other.scheme_id).name
                for other in wallets.wallets_of_group(session, wallet)
                if other.id != wallet.id
            ],
        },
        "balance": wallets.points_balance(session, wallet),
        "earned": [
            {"at": at.isoformat() if at else None, "shop": name, "amount_cents": amount,
             "points": points}
            for at, amount, points, name in claims
        ],
        "spend_codes": [
            {
                "created_at": r.created_at.isoformat(),
                "points": r.points,
                "discount_cents": r.discount_cents,
                "status": r.status,
                "shop": name,
            }
            for r, name in spends
        ],
        "note": "Purchase statistics are kept without your name under a yearly pseudonym.",
    }
