"""Web Push and the weekly digest, end to end: a sale collected through the API, the
worker's task sending to a push service on this machine (http.server), the browser's
side of the encryption done with its own keys; the digest through real SMTP.

Nothing goes out without the wallet's consent, and every message has its way out."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import http_ece
import pytest
import sqlalchemy as sa
from babel.dates import format_date
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from lokaal_sparen import tasks
from loyalty.earning import campaigns, claims, stamps
from loyalty.infra import webpush
from loyalty.infra.db import utcnow
from loyalty.models import EmailDigest, Notification, PushSubscription, Scheme, Wallet
from loyalty.shoppers import expiry, notifications, wallets
from loyalty.town import messages
from tests.conftest import Mailbox, free_port
from tests.factories import Shop, bearer, make_merchant, make_scheme, make_shop
from tests.forms import csrf


@dataclass
class PushService:
    """A push service on this machine: records each request, answers 201 (410 under /gone)."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            # HTTP header names are case-insensitive: keep them lower-case.
            headers = {k.lower(): v for k, v in self.headers.items()}
            service.received.append({"path": self.path, "headers": headers, "body": body})
            self.send_response(410 if self.path.startswith("/gone") else 201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()


@pytest.fixture
def vapid(app: Flask) -> webpush.Keys:
    private, public = webpush.generate_keys()
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_PUBLIC_KEY=public,
                      VAPID_SUBJECT="mailto:gemeente@example.be")
    keys = webpush.keys_from(app.config)
    assert keys is not None
    return keys


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Browser:
    """The browser's side of a push subscription: its ECDH key pair and auth secret."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return _b64(self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")
        return dict(json.loads(plain))


def _subscribe(session: Session, wallet_id: int, endpoint: str, topics: list[str],
               lang: str = "en") -> Browser:
    browser = Browser()
    notifications.subscribe(
        session, session.get_one(Wallet, wallet_id), endpoint=endpoint,
        p256dh=browser.p256dh, auth=_b64(browser.auth), topics=topics, lang=lang,
        now=utcnow(), allow_http=True)
    session.commit()
    return browser


def _wallet(session: Session, scheme: Scheme) -> tuple[int, str]:
    made = wallets.create_wallet(session, scheme)
    session.commit()
    return made.wallet.id, made.token


def _collect(client: FlaskClient, shop: Shop, wallet_token: str, cents: int = 1250) -> int:
    """A sale at the till, collected by the wallet: the points credited."""
    claim = client.post("/api/v1/claims", json={"amount_cents": cents}, headers=shop.headers)
    collected = client.post(f"/api/v1/claims/{claim.json['token']}/claim",  # type: ignore[index]
                            headers=bearer(wallet_token))
    assert collected.status_code == 200, collected.json
    return int(collected.json["points_credited"])  # type: ignore[index]


def _send(app: Flask) -> str:
    with app.app_context():
        return tasks.send_notifications(lambda line: None, utcnow()).summary


def _outbox(session: Session, *wallet_ids: int) -> int:
    session.expire_all()
    n = session.scalar(sa.select(sa.func.count()).select_from(Notification)
                       .where(Notification.wallet_id.in_(wallet_ids))) or 0
    session.commit()
    return n


def test_collected_points_are_pushed_encrypted_after_the_sale(
    app: Flask, client: FlaskClient, session: Session, push_service: PushService,
    vapid: webpush.Keys,
) -> None:
    shop = make_shop(session, name="Bakkerij Zoet")
    wallet_id, token = _wallet(session, shop.scheme)
    browser = _subscribe(session, wallet_id, f"{push_service.url}/send/one", ["points"])
    points = _collect(client, shop, token)
    # The sale committed with its outbox row; nothing was sent from inside it.
    assert push_service.received == []
    assert "1 pushes sent" in _send(app)

    [push] = push_service.received
    headers = push["headers"]
    assert push["path"] == "/send/one"
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) == webpush.TTL_SECONDS
    scheme_, _, params = headers["authorization"].partition(" ")
    assert scheme_ == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == vapid.public_key and fields["t"].count(".") == 2  # a signed JWT
    payload = browser.decrypt(push["body"])
    assert payload == {
        "title": "Points collected",
        "body": f"{points} points from Bakkerij Zoet are in your wallet.",
        "url": "/wallet#notifications",
    }
    # Sent once: the next run finds nothing to send.
    assert "0 pushes sent" in _send(app) and len(push_service.received) == 1


def test_nothing_is_pushed_without_consent_or_after_turning_it_off(
    app: Flask, client: FlaskClient, session: Session, push_service: PushService,
    vapid: webpush.Keys,
) -> None:
    shop = make_shop(session)
    # No subscription at all; a subscription to campaigns only.
    no_one, silent = _wallet(session, shop.scheme)
    campaigns_only, token = _wallet(session, shop.scheme)
    _subscribe(session, campaigns_only, f"{push_service.url}/send/c", ["campaign"])
    _collect(client, shop, silent)
    _collect(client, shop, token)
    assert _outbox(session, no_one, campaigns_only) == 0

    # Turned off on the wallet page after a sale was queued: neither is sent.
    wallet_id, token = _wallet(session, shop.scheme)
    _subscribe(session, wallet_id, f"{push_service.url}/send/off", ["points"])
    _collect(client, shop, token)
    phone = app.test_client()
    phone.set_cookie("ls_wallet", URLSafeSerializer(
        app.config["SECRET_KEY"], salt="wallet-cookie").dumps(token))
    page = phone.get("/wallet").get_data(as_text=True)
    assert phone.post("/wallet/push/off", data={"csrf_token": csrf(page)}).status_code == 303
    _collect(client, shop, token)
    _send(app)
    assert push_service.received == []


def test_a_subscription_the_push_service_forgot_is_removed(
    app: Flask, client: FlaskClient, session: Session, push_service: PushService,
    vapid: webpush.Keys,
) -> None:
    shop = make_shop(session)
    wallet_id, token = _wallet(session, shop.scheme)
    _subscribe(session, wallet_id, f"{push_service.url}/gone/x", ["points"])
    _collect(client, shop, token)
    assert "1 subscriptions gone" in _send(app)
    session.expire_all()
    assert session.scalars(sa.select(PushSubscription)
                           .where(PushSubscription.wallet_id == wallet_id)).all() == []
    session.commit()
    _collect(client, shop, token)
    _send(app)
    assert len(push_service.received) == 1


def test_a_new_campaign_is_announced_once_to_the_wallets_that_asked(
    app: Flask, session: Session, push_service: PushService, vapid: webpush.Keys,
) -> None:
    scheme = make_scheme(session)
    asked, _ = _wallet(session, scheme)
    browser = _subscribe(session, asked, f"{push_service.url}/send/c", ["campaign"], "nl")
    points_only, _ = _wallet(session, scheme)
    _subscribe(session, points_only, f"{push_service.url}/send/p", ["points"])
    now = utcnow()
    campaigns.create_campaign(
        session, scheme, name="Kerst", starts_at=now - timedelta(minutes=3),
        ends_at=now + timedelta(days=5), budget_cents=50_000, multiplier_pct=200, now=now)
    session.commit()
    assert _send(app).startswith("1 campaign and voucher notices queued; 1 pushes sent")
    assert _send(app).startswith("0 campaign and voucher notices queued; 0 pushes sent")
    [push] = push_service.received
    payload = browser.decrypt(push["body"])
    assert payload["title"] == "Nieuwe actie"
    assert payload["body"].startswith("Dubbele punten in elke zaak tot ")


def test_the_weekly_digest_needs_consent_and_its_link_unsubscribes(
    app: Flask, client: FlaskClient, session: Session, mailbox: Mailbox,
) -> None:
    scheme = make_scheme(session)
    now = utcnow()
    campaigns.create_campaign(
        session, scheme, name="Kerst", starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=5), budget_cents=50_000, bonus_points=10, now=now)
    messages.post_message(session, scheme, title="Kerstmarkt", body="Zaterdag op de Markt.",
                          starts_on=now.date() - timedelta(days=1),
                          ends_on=now.date() + timedelta(days=3), by=None, now=now)
    session.commit()
    wallet_id, token = _wallet(session, scheme)
    other_id, _ = _wallet(session, scheme)
    email, other_email = f"klant-{wallet_id}@example.be", f"klant-{other_id}@example.be"
    session.get_one(Wallet, wallet_id).email = email
    session.get_one(Wallet, other_id).email = other_email  # an address, but no opt-in
    session.commit()

    # Opting in on the wallet page, in French.
    client.set_cookie("ls_wallet", URLSafeSerializer(
        app.config["SECRET_KEY"], salt="wallet-cookie").dumps(token))
    client.set_cookie("lang", "fr")
    page = client.get("/wallet").get_data(as_text=True)
    assert client.post("/wallet/digest", data={"csrf_token": csrf(page), "digest": "on"}
                       ).status_code == 303
    with app.app_context():
        summary = tasks.send_digests(lambda line: None, now).summary
    assert summary.startswith("1 weekly digests sent")
    message = mailbox.wait_for(email)
    text = message.get_content()
    assert "Lokaal Sparen" in message["Subject"] and scheme.name in message["Subject"]
    assert "10 points bonus dans tous les commerces jusqu'au" in text
    assert "Kerstmarkt" in text and "Zaterdag op de Markt." in text
    link = next(w for w in text.split() if "/unsubscribe/" in w)
    assert message["List-Unsubscribe"].strip() == f"<{link}>"
    # The wallet that did not opt in got nothing.
    assert [m["To"] for m in mailbox.messages].count(email) == 1
    assert other_email not in [m["To"] for m in mailbox.messages]

    # The same week again: nothing. The link (on any device) stops it for good.
    with app.app_context():
        assert tasks.send_digests(lambda line: None, now).summary.startswith("0 weekly")
    stranger = app.test_client()
    answer = stranger.get(urlsplit(link).path)
    assert answer.status_code == 200
    session.expire_all()
    assert session.get(EmailDigest, wallet_id) is None
    session.commit()
    with app.app_context():
        later = now + timedelta(days=8)
        assert tasks.send_digests(lambda line: None, later).summary.startswith("0 weekly")
    assert stranger.get("/unsubscribe/not-a-token").status_code == 404


def test_an_expiry_reminder_is_pushed_to_a_wallet_without_e_mail(
    app: Flask, session: Session, push_service: PushService, vapid: webpush.Keys,
) -> None:
    t0 = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
    scheme = make_scheme(session, validity_months=24)
    shop = make_merchant(session, scheme)
    wallet_id, _ = _wallet(session, scheme)
    wallet = session.get_one(Wallet, wallet_id)
    new = claims.create_claim(session, shop, 10_000, t0)
    points = claims.claim_points(session, new.token, wallet, t0).points_credited
    session.commit()
    browser = _subscribe(session, wallet_id, f"{push_service.url}/send/e", ["expiry"], "nl")
    # 28 days before the points are two years old: the reminder, by push only.
    run = expiry.expire_scheme(session, scheme, datetime(2026, 10, 30, 9, 0, tzinfo=UTC))
    session.commit()
    assert run.reminders == []  # no e-mail address: nothing for the mail
    assert "1 pushes sent" in _send(app)
    payload = browser.decrypt(push_service.received[0]["body"])
    assert payload["title"] == "Je punten vervallen binnenkort"
    assert payload["body"] == (f"{points} punten vervallen op 29 november 2026: ruil ze in bij "
                               "een deelnemende zaak.")


def test_a_voucher_about_to_expire_is_pushed_once(
    app: Flask, session: Session, push_service: PushService, vapid: webpush.Keys,
) -> None:
    scheme = make_scheme(session)
    cafe = make_merchant(session, scheme, name="Café De Roos")
    card = stamps.create_card(session, cafe, name="Koffiekaart", stamps_needed=2,
                              reward="Gratis koffie", voucher_valid_days=5)
    wallet_id, _ = _wallet(session, scheme)
    browser = _subscribe(session, wallet_id, f"{push_service.url}/send/v", ["expiry"], "nl")
    now = utcnow()
    [voucher] = stamps.give_stamps(session, card, session.get_one(Wallet, wallet_id), 2, now)
    session.commit()
    assert "1 pushes sent" in _send(app)
    assert "0 pushes sent" in _send(app)  # once per voucher
    [push] = push_service.received
    payload = browser.decrypt(push["body"])
    assert voucher.expires_at is not None
    last = (voucher.expires_at - timedelta(microseconds=1)).astimezone(
        ZoneInfo(scheme.timezone)).date()
    assert payload["title"] == "Je waardebon vervalt binnenkort"
    assert payload["body"] == (
        "Je waardebon “Gratis koffie” bij Café De Roos kun je gebruiken tot "
        f"{format_date(last, 'long', locale='nl_BE')}.")


def test_the_e_mailed_expiry_reminder_has_a_link_that_stops_it(
    app: Flask, session: Session, mailbox: Mailbox,
) -> None:
    t0 = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)
    scheme = make_scheme(session, validity_months=24)
    shop = make_merchant(session, scheme)
    addresses = []
    for _n in range(2):  # the second one keeps its reminders: what the first would get
        wallet_id, _ = _wallet(session, scheme)
        wallet = session.get_one(Wallet, wallet_id)
        wallet.email = f"herinnering-{wallet_id}@example.be"
        addresses.append(wallet.email)
        for at in (t0, t0 + timedelta(days=40)):
            new = claims.create_claim(session, shop, 5_000, at)
            claims.claim_points(session, new.token, wallet, at)
    session.commit()
    email, control = addresses

    def remind(day: datetime) -> str:
        with app.app_context():
            return tasks.expire_points(lambda line: None, day, scheme.slug).summary

    assert remind(datetime(2026, 10, 30, 9, 0, tzinfo=UTC)).count("; 2 reminders sent") == 1
    message = mailbox.wait_for(email)
    link = next(w for w in message.get_content().split() if "/unsubscribe/reminders/" in w)
    assert message["List-Unsubscribe"].strip() == f"<{link}>"
    # The digest's link does not take a reminder's token, nor the other way round.
    token = urlsplit(link).path.rsplit("/", 1)[1]
    assert app.test_client().get(f"/unsubscribe/{token}").status_code == 404
    assert app.test_client().get(urlsplit(link).path).status_code == 200
    # In December the later points are about to expire: only the other wallet is told.
    assert remind(datetime(2026, 12, 10, 9, 0, tzinfo=UTC)).count("; 1 reminders sent") == 1
    sent_to = [m["To"] for m in mailbox.messages]
    assert sent_to.count(email) == 1 and sent_to.count(control) == 2
