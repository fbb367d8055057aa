"""A shopper's rights over their data: withdrawing consent and erasing the wallet.

Apart from the wallet itself because erasing cancels open spend codes, which
are the spending side's, and scrubs the pseudonymous purchase events of analytics.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import events
from loyalty.infra import security
from loyalty.models import (
    AccountKind,
    Asset,
    PseudonymKey,
    PurchaseEvent,
    Redemption,
    RedemptionStatus,
    Scheme,
    Wallet,
    WalletStatus,
)
from loyalty.money import accounts, ledger
from loyalty.shoppers import notifications, wallet_passes, wallets
from loyalty.spending import redemptions


def withdraw_statistics(session: Session, wallet: Wallet) -> None:
    """Withdraw consent: the data goes, also from earlier purchase events."""
    wallet.stats_consent = False
    wallet.home_postcode = wallet.home_village = wallet.age_band = None
    _scrub_events(session, wallet)
    session.flush()


def _scrub_events(session: Session, wallet: Wallet) -> None:
    years = session.scalars(
        sa.select(PseudonymKey.year).where(PseudonymKey.scheme_id == wallet.scheme_id)
    ).all()
    keys = [events.shopper_key(session, wallet.scheme_id, wallet.id, year) for year in years]
    if keys:
        session.execute(
            sa.update(PurchaseEvent)
            .where(PurchaseEvent.scheme_id == wallet.scheme_id, PurchaseEvent.shopper_key.in_(keys))
            .values(home_postcode=None, home_village=None, age_band=None)
            .execution_options(synchronize_session=False)
        )


def delete_wallet(session: Session, wallet: Wallet, now: datetime) -> int:
    """Erase a wallet's personal data and forfeit its points to breakage.

    The ledger keeps its balanced, pseudonymous postings (accounting records
    must be kept); the tokens stop working. Returns the points forfeited.
    """
    for code in session.scalars(
        sa.select(Redemption.code).where(
            Redemption.wallet_id == wallet.id, Redemption.status == RedemptionStatus.HELD
        )
    ).all():
        redemptions.cancel_redemption(session, wallet, code, now)
    account = wallets.points_account(session, wallet)
    forfeited = ledger.balance(session, account.id)
    if forfeited:
        breakage = ledger.account(
            session, wallet.scheme_id, AccountKind.BREAKAGE, Asset.POINTS, ledger.SCHEME_OWNER
        )
        point_value = session.scalars(
            sa.select(Scheme.point_value_cents).where(Scheme.id == wallet.scheme_id)
        ).one()
        ledger.post(
            session,
            wallet.scheme_id,
            "forfeit",
            [
                ledger.Leg(account, -forfeited),
                ledger.Leg(breakage, forfeited),
                *accounts.breakage_legs(session, wallet.scheme_id, forfeited, point_value),
            ],
            memo="wallet deleted by its owner",
            at=now,
            point_value_cents=point_value,
        )
    _scrub_events(session, wallet)
    notifications.forget_wallet(session, wallet.id)
    wallet.email = None
    wallet.stats_consent = False
    wallet.home_postcode = wallet.home_village = wallet.age_band = None
    # No longer tied to the phone's wallets of other towns.
    wallet.group_id = None
    wallet.card_number = None  # the phone's card QR opens nothing any more
    # The devices that kept its pass (their push tokens are personal data); the
    # pass itself then answers 404 to the Wallet app (a deleted wallet's).
    wallet_passes.forget_pass_devices(session, wallet.id)
    # Random hashes nobody knows the preimage of: neither secret opens it again.
    wallet.token_hash = security.token_hash(security.new_token())
    wallet.recovery_hash = security.token_hash(security.new_token())
    wallet.status = WalletStatus.DELETED
    session.flush()
    return forfeited
