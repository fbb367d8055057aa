from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class PrintedCard(Base):
    """A paper wallet for a shopper without a smartphone.

    The number on the card (also in its QR code) lets any till give it points;
    spending needs the card's PIN. The PIN is stored as an argon2 hash, and
    wrong PINs are counted in the database so a lock-out holds across workers.
    """

    __tablename__ = "printed_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), unique=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    pin_hash: Mapped[str] = mapped_column(sa.String(200))
    failed_pins: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_merchant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("merchants.id"))

    __table_args__ = (sa.CheckConstraint("failed_pins >= 0", name="failed_pins_non_negative"),)
