"""loyalty.shoppers.notifications: what a subscription takes, once-only sending, and a
deleted wallet keeping no consent."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.infra import webpush
from loyalty.infra.db import utcnow
from loyalty.models import EmailDigest, Notification, Wallet
from loyalty.shoppers import erasure, notifications, wallets
from tests.factories import make_scheme

AUTH = base64.urlsafe_b64encode(b"0123456789abcdef").rstrip(b"=").decode()


def _wallet(session: Session) -> Wallet:
    wallet = wallets.create_wallet(session, make_scheme(session)).wallet
    wallet.email = f"w{wallet.id}@example.be"
    session.commit()
    return wallet


def _subscribe(session: Session, wallet: Wallet, endpoint: str, **kw: object) -> object:
    _, point = webpush.generate_keys()
    args: dict[str, object] = dict(endpoint=endpoint, p256dh=point, auth=AUTH,
                                   topics=["points"], lang="fr", now=utcnow())
    args.update(kw)
    return notifications.subscribe(session, wallet, **args)  # type: ignore[arg-type]


def test_a_subscription_needs_https_real_keys_and_known_topics(session: Session) -> None:
    wallet = _wallet(session)
    for bad in (dict(endpoint="http://push.example.net/x"),
                dict(endpoint="https://127.0.0.1:8443/x"),
                dict(endpoint="https://10.0.0.7/x"),
                dict(endpoint="https://[::1]/x"),
                dict(endpoint="https://localhost/x"),
                dict(endpoint="https://push.example.net/x", auth="c2hvcnQ"),
                dict(endpoint="https://push.example.net/x", p256dh=AUTH),
                dict(endpoint="https://push.example.net/x", topics=[]),
                dict(endpoint="https://push.example.net/x", topics=["ads"])):
        with pytest.raises(InvalidInput):
            _subscribe(session, wallet, **bad)  # type: ignore[arg-type]
    _subscribe(session, wallet, f"https://push.example.net/{wallet.id}")
    # The same browser again: one row, with the new choice.
    again = _subscribe(session, wallet, f"https://push.example.net/{wallet.id}",
                       topics=["campaign"])
    [row] = notifications.subscriptions(session, wallet.id)
    assert row is again and (row.on_points, row.on_campaign) == (False, True)


def test_a_notification_is_taken_once_and_a_digest_once_a_week(session: Session) -> None:
    wallet = _wallet(session)
    _subscribe(session, wallet, f"https://push.example.net/once/{wallet.id}")
    now = utcnow()
    assert notifications.enqueue(session, wallet.scheme_id, wallet.id, "points", "7",
                                 {"points": 1, "shop": "x"}, now)
    # The same event again is refused by the unique key, and the transaction goes on.
    assert not notifications.enqueue(session, wallet.scheme_id, wallet.id, "points", "7",
                                     {"points": 1, "shop": "x"}, now)
    assert not notifications.enqueue(session, wallet.scheme_id, wallet.id, "expiry", "m",
                                     {}, now)  # not a topic this wallet chose
    session.commit()
    [mine] = [i for i in notifications.pending(session, 10_000)
              if session.get_one(Notification, i).wallet_id == wallet.id]
    assert notifications.take(session, mine, now) is not None
    assert notifications.take(session, mine, now) is None
    notifications.digest_on(session, wallet, "nl", now)
    today = now.date()
    assert notifications.mark_digest_sent(session, wallet.id, today)
    assert not notifications.mark_digest_sent(session, wallet.id, today)
    session.commit()


def test_a_deleted_wallet_keeps_no_subscription_nor_digest(session: Session) -> None:
    wallet = _wallet(session)
    _subscribe(session, wallet, f"https://push.example.net/gone/{wallet.id}")
    notifications.digest_on(session, wallet, "nl", utcnow())
    session.commit()
    erasure.delete_wallet(session, wallet, utcnow())
    session.commit()
    assert notifications.subscriptions(session, wallet.id) == []
    assert session.get(EmailDigest, wallet.id) is None
