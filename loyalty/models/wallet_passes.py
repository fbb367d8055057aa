"""A wallet as a pass in the phone's own wallet app (Apple Wallet), and the
devices that asked to hear when it changes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class WalletPass(Base):
    """The pass of a wallet: its serial number, made on the first download.

    The serial is random, not the wallet's id, so a pass tells nobody how many
    wallets the town has. No update tag is stored: every change of a balance is
    a ledger transaction, so the newest transaction on the wallet's accounts is
    the tag (loyalty.shoppers.wallet_passes.updated_at) and no code path that
    moves value can forget to bump it.
    """

    __tablename__ = "wallet_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), unique=True)
    serial: Mapped[str] = mapped_column(sa.String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PassRegistration(Base):
    """A device (its Wallet app's library id) that added a pass and wants updates.

    The push token is kept for notifications through APNs, which are not sent
    yet: a device then picks up a new balance when it refreshes the pass itself.
    Unique per device and pass, so a device registering twice stays one row.
    """

    __tablename__ = "pass_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(sa.ForeignKey("wallet_passes.id"), index=True)
    device_library_id: Mapped[str] = mapped_column(sa.String(100))
    push_token: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("device_library_id", "pass_id"),)
