"""Telling a wallet's owner things, only with their consent: Web Push and the e-mail digest.

Consent is a row: a push subscription (per browser, with the topics the
shopper ticked) or an e-mail digest. ``enqueue`` writes a notification to the
outbox only when such a row wants the topic, in the transaction of the event
it tells (a collected sale, an expiry reminder), and the worker sends it after
that transaction committed: a push service that is slow or down never undoes a
sale. Turning notifications off deletes the rows, so nothing more goes out.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import campaigns
from loyalty.errors import InvalidInput
from loyalty.models import (
    EmailDigest,
    Merchant,
    Notification,
    PushSubscription,
    ReminderOptOut,
    Scheme,
    StampCard,
    Voucher,
    VoucherStatus,
    Wallet,
    WalletStatus,
)

POINTS = "points"
EXPIRY = "expiry"
CAMPAIGN = "campaign"
TOPICS = (POINTS, EXPIRY, CAMPAIGN)
_COLUMN = {
    POINTS: PushSubscription.on_points,
    EXPIRY: PushSubscription.on_expiry,
    CAMPAIGN: PushSubscription.on_campaign,
}
LANGS = ("nl", "fr", "en")
DIGEST_EVERY = timedelta(days=7)
# A campaign is news for a day after it starts; the worker looks every few minutes.
ANNOUNCE_WITHIN = timedelta(days=1)
# A voucher's reminder comes this long before it expires (points: 30 days, see expiry).
VOUCHER_NOTICE = timedelta(days=7)


def _key(text: str, size: int, what: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise InvalidInput(f"{what} is not a key of {size} bytes", code="invalid_subscription")
    return text


def _internal(host: str) -> bool:
    """A host name or address that is not on the internet (this machine, a private net)."""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: push services are public names (no lookup here)
    return not address.is_global


def subscribe(
    session: Session,
    wallet: Wallet,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    topics: Iterable[str],
    lang: str,
    now: datetime,
    allow_http: bool = False,
) -> PushSubscription:
    """Store a browser's subscription with the topics chosen (the consent, and when).

    ``allow_http`` is for a push endpoint on this machine (the tests): browsers'
    push services are https. Raises InvalidInput.
    """
    chosen = set(topics)
    if not chosen or not chosen <= set(TOPICS):
        raise InvalidInput("choose one or more of " + ", ".join(TOPICS), code="invalid_topics")
    url = urlsplit(endpoint)
    schemes = ("https", "http") if allow_http else ("https",)
    if url.scheme not in schemes or not url.hostname or len(endpoint) > 1000:
        raise InvalidInput("the endpoint must be an https URL", code="invalid_subscription")
    if not allow_http and _internal(url.hostname):
        # The worker posts to this URL: never let a page aim it at our own network.
        raise InvalidInput("the endpoint must be a public push service",
                           code="invalid_subscription")
    # The browser's ECDH P-256 public key (uncompressed point) and its 16-byte secret.
    _key(p256dh, 65, "p256dh")
    _key(auth, 16, "auth")
    values: dict[str, Any] = dict(
        wallet_id=wallet.id, p256dh=p256dh, auth=auth,
        lang=lang if lang in LANGS else "nl", consented_at=now,
        on_points=POINTS in chosen, on_expiry=EXPIRY in chosen, on_campaign=CAMPAIGN in chosen,
    )
    found = session.scalars(
        sa.select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    ).first()
    if found is None:
        found = PushSubscription(endpoint=endpoint, **values)
        session.add(found)
    else:
        # The browser's one subscription, now this wallet's with these topics.
        for name, value in values.items():
            setattr(found, name, value)
    session.flush()
    return found


def subscriptions(session: Session, wallet_id: int) -> list[PushSubscription]:
    return list(session.scalars(
        sa.select(PushSubscription).where(PushSubscription.wallet_id == wallet_id)
        .order_by(PushSubscription.id)
    ))


def turn_off(session: Session, wallet_id: int) -> int:
    """Delete every push subscription of the wallet, and what was still waiting to go."""
    session.execute(
        sa.delete(Notification).where(
            Notification.wallet_id == wallet_id, Notification.sent_at.is_(None)
        )
    )
    result = session.execute(
        sa.delete(PushSubscription).where(PushSubscription.wallet_id == wallet_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def forget_endpoint(session: Session, endpoint: str) -> None:
    """A push service answered that this subscription is gone (404, 410)."""
    session.execute(sa.delete(PushSubscription).where(PushSubscription.endpoint == endpoint))


def wanted(wallet_id: Any, topic: str) -> sa.Exists:
    """Whether the wallet asked for pushes of this topic, as a clause: a busy
    statement (a collect's guard) can ask it on its way."""
    return sa.exists().where(PushSubscription.wallet_id == wallet_id, _COLUMN[topic])


def wants(session: Session, wallet_id: int, topic: str) -> bool:
    return session.scalar(sa.select(wanted(wallet_id, topic))) or False


def enqueue(
    session: Session, scheme_id: int, wallet_id: int, topic: str, ref: str,
    data: dict[str, Any], now: datetime, *, wanted: bool | None = None,
) -> bool:
    """Put a push in the outbox if the wallet chose this topic; False if it did not.

    ``wanted``: whether it did, if the caller already asked (``wanted()`` in its
    own statement); None asks the database.
    Once per (wallet, topic, ref): the unique key refuses a second one, inside a
    savepoint, so the caller's transaction goes on.
    """
    if wanted is None:
        wanted = wants(session, wallet_id, topic)
    if not wanted:
        return False
    try:
        with session.begin_nested():
            session.add(Notification(scheme_id=scheme_id, wallet_id=wallet_id, topic=topic,
                                     ref=ref, data=data, created_at=now))
            session.flush()
    except sa.exc.IntegrityError:
        return False
    return True


def announce_campaigns(session: Session, now: datetime) -> int:
    """Outbox rows for campaigns that started lately, for the wallets that asked."""
    made = 0
    for campaign in campaigns.started_since(session, now - ANNOUNCE_WITHIN, now):
        told = sa.select(Notification.wallet_id).where(
            Notification.topic == CAMPAIGN, Notification.ref == str(campaign.id)
        )
        wallet_ids = session.scalars(
            sa.select(PushSubscription.wallet_id).distinct()
            .join(Wallet, Wallet.id == PushSubscription.wallet_id)
            .where(
                Wallet.scheme_id == campaign.scheme_id,
                PushSubscription.on_campaign,
                PushSubscription.wallet_id.not_in(told),
            )
        ).all()
        for wallet_id in wallet_ids:
            made += enqueue(session, campaign.scheme_id, wallet_id, CAMPAIGN, str(campaign.id),
                            {"campaign": campaign.id}, now)
    return made


def remind_vouchers(session: Session, now: datetime) -> int:
    """Outbox rows for vouchers that expire within a week, once per voucher, for the
    wallets that chose expiry notices."""
    ref = sa.literal("voucher:") + sa.cast(Voucher.id, sa.String)
    told = sa.exists().where(
        Notification.wallet_id == Voucher.wallet_id, Notification.topic == EXPIRY,
        Notification.ref == ref,
    )
    asked = sa.select(PushSubscription.wallet_id).where(PushSubscription.on_expiry)
    rows = session.execute(
        sa.select(Voucher.id, Voucher.scheme_id, Voucher.wallet_id, Voucher.expires_at,
                  StampCard.reward, Merchant.name, Scheme.timezone)
        .join(StampCard, StampCard.id == Voucher.stamp_card_id)
        .join(Merchant, Merchant.id == Voucher.merchant_id)
        .join(Scheme, Scheme.id == Voucher.scheme_id)
        .where(
            Voucher.status == VoucherStatus.AVAILABLE,
            Voucher.expires_at > now,
            Voucher.expires_at <= now + VOUCHER_NOTICE,
            Voucher.wallet_id.in_(asked),
            ~told,
        )
        .order_by(Voucher.id)
    ).all()
    made = 0
    for voucher_id, scheme_id, wallet_id, expires_at, reward, shop, zone in rows:
        assert expires_at is not None  # the query asked for an expiry in the week
        # The last day it can be used, in the town's calendar.
        last = (expires_at - timedelta(microseconds=1)).astimezone(ZoneInfo(zone)).date()
        made += enqueue(session, scheme_id, wallet_id, EXPIRY, f"voucher:{voucher_id}",
                        {"reward": reward, "shop": shop, "date": last.isoformat()}, now)
    return made


def pending(session: Session, limit: int = 200) -> list[int]:
    return list(session.scalars(
        sa.select(Notification.id).where(Notification.sent_at.is_(None))
        .order_by(Notification.id).limit(limit)
    ))


def take(session: Session, notification_id: int, now: datetime) -> Notification | None:
    """Claim a notification for sending: the conditional UPDATE lets one sender have it."""
    result = session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, Notification.sent_at.is_(None))
        .values(sent_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return session.get(Notification, notification_id)


def targets(session: Session, notification: Notification) -> list[PushSubscription]:
    """The wallet's subscriptions that still want this topic (consent is read again)."""
    return list(session.scalars(
        sa.select(PushSubscription).where(
            PushSubscription.wallet_id == notification.wallet_id, _COLUMN[notification.topic]
        )
    ))


# -- the e-mail digest ---------------------------------------------------------

def digest_of(session: Session, wallet_id: int) -> EmailDigest | None:
    return session.get(EmailDigest, wallet_id)


def digest_on(session: Session, wallet: Wallet, lang: str, now: datetime) -> EmailDigest:
    """Opt in to the weekly digest; the wallet needs its recovery e-mail. Raises InvalidInput."""
    if not wallet.email:
        raise InvalidInput("add an e-mail address first", code="no_email")
    digest = session.get(EmailDigest, wallet.id)
    if digest is None:
        digest = EmailDigest(wallet_id=wallet.id, consented_at=now)
        session.add(digest)
    digest.lang = lang if lang in LANGS else "nl"
    session.flush()
    return digest


def digest_off(session: Session, wallet_id: int) -> bool:
    result = session.execute(sa.delete(EmailDigest).where(EmailDigest.wallet_id == wallet_id))
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class DueDigest:
    wallet_id: int
    scheme_id: int
    email: str
    lang: str


def due_digests(session: Session, today: date) -> list[DueDigest]:
    """The digests not sent in the last week, of wallets that still have an e-mail."""
    rows = session.execute(
        sa.select(Wallet.id, Wallet.scheme_id, Wallet.email, EmailDigest.lang)
        .join(EmailDigest, EmailDigest.wallet_id == Wallet.id)
        .where(
            Wallet.email.is_not(None),
            Wallet.status != WalletStatus.DELETED,
            sa.or_(EmailDigest.last_sent_on.is_(None),
                   EmailDigest.last_sent_on <= today - DIGEST_EVERY),
        )
        .order_by(Wallet.id)
    ).all()
    return [DueDigest(w, s, str(e), lang) for w, s, e, lang in rows]


def mark_digest_sent(session: Session, wallet_id: int, today: date) -> bool:
    """Claim this week's digest of a wallet: a conditional UPDATE, so at most one a week."""
    result = session.execute(
        sa.update(EmailDigest)
        .where(
            EmailDigest.wallet_id == wallet_id,
            sa.or_(EmailDigest.last_sent_on.is_(None),
                   EmailDigest.last_sent_on <= today - DIGEST_EVERY),
        )
        .values(last_sent_on=today)
    )
    return getattr(result, "rowcount", 0) == 1


def reminders_by_mail(session: Session, wallet_id: int) -> bool:
    """False once the wallet used the reminder e-mail's unsubscribe link."""
    return session.get(ReminderOptOut, wallet_id) is None


def reminder_mail_off(session: Session, wallet_id: int, now: datetime) -> None:
    """No more e-mailed expiry reminders for this wallet (doing it twice changes nothing)."""
    if session.get(ReminderOptOut, wallet_id) is None:
        try:
            with session.begin_nested():
                session.add(ReminderOptOut(wallet_id=wallet_id, created_at=now))
                session.flush()
        except sa.exc.IntegrityError:
            pass  # a second click at the same moment: already off


def forget_wallet(session: Session, wallet_id: int) -> None:
    """A deleted wallet: no consent is left, and nothing waiting goes out."""
    turn_off(session, wallet_id)
    digest_off(session, wallet_id)
