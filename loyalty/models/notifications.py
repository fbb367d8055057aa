"""The town's messages to shoppers, and the shopper's consent to be told things.

Nothing is sent to a wallet without a row here that it chose: a push
subscription (per browser, with the topics ticked) or an e-mail digest.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class TownMessage(Base):
    """A short message of the municipality, shown in the wallet from one day to another."""

    __tablename__ = "town_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.String(1000))
    # Local days of the scheme, both included.
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("ends_on >= starts_on", name="message_ends_on_or_after_start"),
    )


class PushSubscription(Base):
    """A browser's Web Push subscription for a wallet, with the consent it was given."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), index=True)
    # The push service's URL is the browser's identity there: one row each.
    endpoint: Mapped[str] = mapped_column(sa.String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(sa.String(200))
    auth: Mapped[str] = mapped_column(sa.String(100))
    lang: Mapped[str] = mapped_column(sa.String(2), default="nl")
    on_points: Mapped[bool] = mapped_column(default=False)
    on_expiry: Mapped[bool] = mapped_column(default=False)
    on_campaign: Mapped[bool] = mapped_column(default=False)
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EmailDigest(Base):
    """A wallet's consent to the weekly e-mail digest, and the day it was last sent."""

    __tablename__ = "email_digests"

    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), primary_key=True)
    lang: Mapped[str] = mapped_column(sa.String(2), default="nl")
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_on: Mapped[date | None] = mapped_column(sa.Date)


class ReminderOptOut(Base):
    """A wallet that no longer wants the e-mailed reminder of points about to expire
    (its one-click link); the reminder is otherwise sent to a wallet's recovery e-mail."""

    __tablename__ = "reminder_opt_outs"

    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """The outbox: a push to send, written in the transaction of what it tells.

    The worker sends it after that transaction committed, so a push service
    that is down never undoes a sale. One row per (wallet, topic, ref): the
    claim id, the campaign id, the reminder's month; sent_at claims it for
    sending, once.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    wallet_id: Mapped[int] = mapped_column(sa.ForeignKey("wallets.id"))
    topic: Mapped[str] = mapped_column(sa.String(10))
    ref: Mapped[str] = mapped_column(sa.String(40))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (sa.UniqueConstraint("wallet_id", "topic", "ref"),)
