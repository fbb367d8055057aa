"""A shop's webhooks: its own systems hear of its collected claims, confirmed spend
codes and corrected sales.

The owner registers a URL and the events it wants; each event is written to the
outbox (``webhook_deliveries``) by ``enqueue``, inside the transaction of the
value move itself, so an event is sent if and only if its move committed, and
once per endpoint (a unique key on the event's key). ``loyalty.shops.
webhook_delivery`` sends the outbox.

Addresses: https only; plain http and addresses on this machine or a private
network only where ``allows_local`` says so (tests, debug, or
``WEBHOOKS_ALLOW_LOCAL``), so that a shop cannot make the platform call into the
network it runs in (the sender checks the resolved addresses again).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, Forbidden, InvalidInput, NotFound
from loyalty.models import (
    DeliveryStatus,
    Merchant,
    MerchantStatus,
    StaffUser,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

MAX_URL = 500
# A shop's systems: a till, a web shop, a bookkeeping link. More is a mistake.
MAX_ACTIVE_PER_SHOP = 5
LOG_LIMIT = 100
SECRET_PREFIX = "lswh_"  # noqa: S105  (the prefix that tells a webhook secret apart)
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def allows_local(config: Mapping[str, Any]) -> bool:
    """Whether http and local or private addresses are allowed: in tests, in debug,
    or with WEBHOOKS_ALLOW_LOCAL set (a receiver on the same machine or network)."""
    return bool(config.get("TESTING") or config.get("DEBUG")
                or config.get("WEBHOOKS_ALLOW_LOCAL"))


def is_public_address(address: str) -> bool:
    """A globally routable address (not loopback, private, link-local, reserved ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_local: bool) -> str:
    """The URL, stripped, if a webhook may be sent to it. Raises InvalidInput."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise InvalidInput(f"the URL must be 1 to {MAX_URL} characters", code="invalid_url")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        raise InvalidInput("this is not a URL", code="invalid_url") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput("the URL must start with https://", code="invalid_url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("the URL must not carry a user name or password",
                           code="invalid_url")
    if any(ch.isspace() for ch in url) or parts.fragment:
        raise InvalidInput("this is not a URL", code="invalid_url")
    local = host.lower() in LOCAL_NAMES or host.lower().endswith(".localhost")
    if parts.scheme == "http" and not (allow_local and local):
        raise InvalidInput("the URL must start with https://", code="https_required")
    literal = _ip_literal(host)
    if not allow_local and (local or (literal is not None and not is_public_address(literal))):
        raise InvalidInput("the URL must point to a public address",
                           code="private_address")
    return url


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_events(events: Iterable[str]) -> list[str]:
    """The chosen event types, known and without repeats. Raises InvalidInput."""
    known = [e.value for e in WebhookEvent]
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in known]
    if unknown or not chosen:
        raise InvalidInput(f"events must be one or more of {', '.join(known)}",
                           code="invalid_events")
    return [e for e in known if e in chosen]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(24)


def create_endpoint(
    session: Session, merchant: Merchant, url: str, events: Iterable[str],
    actor: StaffUser | None, now: datetime, *, allow_local: bool,
) -> WebhookEndpoint:
    """A new active webhook of the shop; its secret is read once from the result.

    Raises InvalidInput (URL, events), Forbidden (shop not approved), Conflict (too many).
    """
    if merchant.status != MerchantStatus.APPROVED:
        raise Forbidden("only an approved shop can have webhooks", code="merchant_not_approved")
    url = check_url(url, allow_local=allow_local)
    chosen = check_events(events)
    if len(active_endpoints(session, merchant.id)) >= MAX_ACTIVE_PER_SHOP:
        raise Conflict(f"a shop has at most {MAX_ACTIVE_PER_SHOP} active webhooks",
                       code="too_many_webhooks")
    endpoint = WebhookEndpoint(
        scheme_id=merchant.scheme_id, merchant_id=merchant.id, url=url,
        events=f" {' '.join(chosen)} ", secret=new_secret(), active=True, created_at=now,
        created_by=actor.id if actor else None,
    )
    session.add(endpoint)
    session.flush()  # the answer carries its id
    return endpoint


def endpoints_of(session: Session, merchant_id: int) -> list[WebhookEndpoint]:
    """The shop's webhooks, active first, newest first."""
    return list(session.scalars(
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id)
        .order_by(WebhookEndpoint.active.desc(), WebhookEndpoint.id.desc())
    ))


def active_endpoints(session: Session, merchant_id: int) -> list[WebhookEndpoint]:
    return [e for e in endpoints_of(session, merchant_id) if e.active]


def endpoint_of(session: Session, merchant_id: int, endpoint_id: int) -> WebhookEndpoint:
    """One of the shop's webhooks. Raises NotFound (also for another shop's)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.merchant_id != merchant_id:
        raise NotFound("no such webhook", code="unknown_webhook")
    return endpoint


def deactivate(session: Session, merchant_id: int, endpoint_id: int, now: datetime) -> bool:
    """Stop a webhook: no new events, and its pending deliveries are not sent.

    False if it was already inactive. Raises NotFound.
    """
    endpoint = endpoint_of(session, merchant_id, endpoint_id)
    if not endpoint.active:
        return False
    endpoint.active = False
    endpoint.deactivated_at = now
    return True


def deliveries(session: Session, endpoint: WebhookEndpoint,
               limit: int = LOG_LIMIT) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first."""
    return list(session.scalars(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ))


# -- the outbox ---------------------------------------------------------------------

_COLUMNS = ["endpoint_id", "event_id", "event_type", "event_key", "body", "status",
            "attempts", "created_at", "next_attempt_at"]


def _subscribed() -> sa.Select[Any]:
    return (
        sa.select(
            WebhookEndpoint.id,
            sa.bindparam("event_id", type_=WebhookDelivery.event_id.type),
            sa.bindparam("event_type", type_=WebhookDelivery.event_type.type),
            sa.bindparam("event_key", type_=WebhookDelivery.event_key.type),
            sa.bindparam("body", type_=WebhookDelivery.body.type),
            sa.literal(DeliveryStatus.PENDING.value, WebhookDelivery.status.type),
            sa.literal(0, sa.Integer),
            sa.bindparam("now", type_=WebhookDelivery.created_at.type),
            sa.bindparam("now", type_=WebhookDelivery.created_at.type),
        )
        .where(
            WebhookEndpoint.merchant_id == sa.bindparam("merchant_id"),
            WebhookEndpoint.active.is_(True),
            WebhookEndpoint.events.like(sa.bindparam("pattern")),
        )
    )


# One statement per event, built once per dialect: the busiest write (a collect)
# pays a single INSERT ... SELECT that inserts nothing for a shop without webhooks.
# ON CONFLICT DO NOTHING: the same event again (its key) is enqueued once.
_ENQUEUE = {
    name: dialect.insert(WebhookDelivery.__table__)
    .from_select(_COLUMNS, _subscribed())
    .on_conflict_do_nothing(index_elements=["endpoint_id", "event_key"])
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def wanted(merchant_id: Any, event: WebhookEvent) -> sa.Exists:
    """Whether the shop has an active endpoint for this event, as a clause: a busy
    statement (a collect's guard) can ask it on its way."""
    return sa.exists().where(
        WebhookEndpoint.merchant_id == merchant_id,
        WebhookEndpoint.active.is_(True),
        WebhookEndpoint.events.like(f"% {event.value} %"),
    )


def enqueue(
    session: Session, merchant_id: int, event: WebhookEvent, key: str,
    data: dict[str, Any], now: datetime, *, wanted: bool | None = None,
) -> None:
    """Write the event to the outbox of each active endpoint of the shop that wants it,
    in the caller's transaction. ``key`` names the event once ("claim:12").

    ``wanted=False``: the caller already knows (``wanted()`` in its own statement)
    that no endpoint wants it, and nothing is written."""
    if wanted is False:
        return
    event_id = "evt_" + secrets.token_hex(12)
    body = json.dumps(
        {"id": event_id, "type": event.value, "created_at": now.isoformat(), "data": data},
        separators=(",", ":"), sort_keys=True, default=str,
    )
    statement = _ENQUEUE[session.get_bind().dialect.name]
    # On the session's connection, as the value moves' Core statements.
    session.connection().execute(statement, {
        "event_id": event_id, "event_type": event.value, "event_key": key, "body": body,
        "now": now, "merchant_id": merchant_id, "pattern": f"% {event.value} %",
    })
