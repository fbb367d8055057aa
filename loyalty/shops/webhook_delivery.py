"""Sending the webhook outbox: signed POSTs, retried with backoff for a day.

A delivery is taken by a conditional UPDATE of its lease (``take``): of two
workers (the worker and ``loyalty webhooks deliver`` by hand, or two servers)
looking at the same moment, one gets it; the other's UPDATE matches nothing.
The taker commits the lease, sends outside any transaction (a slow receiver
holds no lock), and records the answer only while the lease is still its own
(``record``). A worker that dies mid-send loses the lease after ``LEASE``, and
the delivery is sent again: receivers must expect a repeat (the event ``id``
tells them apart), as with any webhook.

Signature: ``Lokaal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" keyed with the endpoint's secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from loyalty.shops.webhooks import is_public_address

SIGNATURE_HEADER = "Lokaal-Signature"
TIMEOUT_SECONDS = 5.0
LEASE = timedelta(seconds=60)  # well above one send's timeout
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
BATCH = 100
MAX_ERROR = 500


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def retry_delay(attempts: int) -> timedelta:
    """After the ``attempts``-th failure: 1, 2, 4, 8 ... minutes, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


@dataclass(frozen=True)
class Outgoing:
    """A delivery this sender holds the lease of, with what sending it needs."""

    id: int
    url: str
    secret: str
    body: str
    attempts: int  # before this one
    created_at: datetime
    lease_until: datetime


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no HTTP answer (refused, timeout, blocked)
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def due(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Pending deliveries due now and not held by a live lease, oldest first."""
    return list(session.scalars(
        sa.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            sa.or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    ))


def take(session: Session, delivery_id: int, now: datetime) -> Outgoing | None:
    """Lease a due delivery for one send; None if another sender took it first,
    or its webhook was deactivated (then it is marked failed, never sent)."""
    lease_until = now + LEASE
    won = session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            sa.or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
        )
        .values(lease_until=lease_until)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        return None
    row = session.execute(
        sa.select(WebhookDelivery.attempts, WebhookDelivery.body, WebhookDelivery.created_at,
                  WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEndpoint.active)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    attempts, body, created_at, url, secret, active = row
    if not active:
        session.execute(
            sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
            .values(status=DeliveryStatus.FAILED, lease_until=None,
                    last_error="the webhook was deactivated")
            .execution_options(synchronize_session=False)
        )
        return None
    return Outgoing(delivery_id, url, secret, body, attempts, created_at, lease_until)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx: never followed, so a receiver
    cannot send the platform on to an address the URL check would refuse."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _blocked(url: str) -> str | None:
    """Why the URL's host must not be called now (it resolves to a non-public
    address), or None. Checked at each send: DNS may have changed since."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as error:
        return f"cannot resolve {host}: {error}"
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            return f"{host} resolves to a non-public address ({address})"
    return None


def send(outgoing: Outgoing, now: datetime, *, allow_local: bool,
         timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST the delivery's body, signed; the receiver's status code or what failed."""
    if not allow_local:
        reason = _blocked(outgoing.url)
        if reason:
            return Answer(None, reason)
    body = outgoing.body.encode()
    request = urllib.request.Request(  # noqa: S310  (https, or http to localhost: checked)
        outgoing.url, data=body, method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "LokaalSparen-Webhooks/1",
            SIGNATURE_HEADER: sign(outgoing.secret, body, int(now.timestamp())),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:  # nosec B310
            response.read(4096)
            return Answer(response.status, None)
    except urllib.error.HTTPError as error:
        return Answer(error.code, f"HTTP {error.code} {error.reason}"[:MAX_ERROR])
    except (OSError, ValueError) as error:  # refused, timeout, TLS, bad URL
        return Answer(None, f"{type(error).__name__}: {error}"[:MAX_ERROR])


def record(session: Session, outgoing: Outgoing, answer: Answer, now: datetime) -> str | None:
    """Keep the attempt's outcome and release the lease, if the lease is still this
    sender's. Returns the delivery's new status (None: the lease was lost)."""
    attempts = outgoing.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts, "last_attempt_at": now, "lease_until": None,
        "last_status_code": answer.status_code, "last_error": answer.error,
    }
    if answer.ok:
        status = DeliveryStatus.DELIVERED
        values["delivered_at"] = now
    else:
        retry_at = now + retry_delay(attempts)
        if retry_at - outgoing.created_at > GIVE_UP_AFTER:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
            values["next_attempt_at"] = retry_at
    values["status"] = status
    kept = session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == outgoing.id,
               WebhookDelivery.lease_until == outgoing.lease_until)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return status.value if kept == 1 else None
