"""A shop's webhooks: the addresses its own systems listen on, and the outbox of
deliveries to them."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class WebhookEvent(enum.StrEnum):
    CLAIM_COLLECTED = "claim.collected"
    REDEMPTION_CONFIRMED = "redemption.confirmed"
    SALE_REVERSED = "sale.reversed"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at (also while a worker sends it)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # a day of retries without a 2xx: given up


class WebhookEndpoint(Base):
    """A URL of a shop's own system that hears of some of its events, signed with
    ``secret``. The secret is kept as it is: signing needs it (a hash would not do);
    it is shown to the owner once, when the webhook is made."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    merchant_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    # The event types, each between spaces (" claim.collected sale.reversed "), so
    # the outbox's INSERT ... SELECT picks the subscribed endpoints with one LIKE.
    events: Mapped[str] = mapped_column(sa.String(200))
    secret: Mapped[str] = mapped_column(sa.String(80))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def event_list(self) -> list[str]:
        return self.events.split()


class WebhookDelivery(Base):
    """One event for one endpoint: the transactional outbox.

    Written in the transaction that moves the value (a collect, a confirm, a
    correction), so an event is sent if and only if its move committed. The
    unique (endpoint, event key) makes an event enqueued once per endpoint,
    also if the move's code path runs again. ``body`` is the exact JSON sent,
    fixed when the event happened, so every attempt signs the same bytes.
    A worker takes a delivery by a conditional UPDATE of ``lease_until``: of two
    workers at the same moment, one sends it.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str] = mapped_column(sa.String(40))
    event_key: Mapped[str] = mapped_column(sa.String(80))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(12), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_key"),
        # The worker's question: which pending deliveries are due?
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="status_known"
        ),
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )
