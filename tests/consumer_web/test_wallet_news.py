"""Campaigns and the town's messages on the wallet and the shop list, and the wallet's
choices of notifications (the push option only where push is set up)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from loyalty.earning import campaigns
from loyalty.infra import webpush
from loyalty.infra.db import utcnow
from loyalty.models import PushSubscription, Scheme
from loyalty.shoppers import notifications, wallets
from loyalty.town import messages
from tests.factories import make_merchant, make_scheme, make_shop
from tests.forms import csrf


def _phone(app: Flask, client: FlaskClient, session: Session, scheme: Scheme) -> int:
    """A phone with a wallet of ``scheme`` in its cookie; the wallet's id."""
    made = wallets.create_wallet(session, scheme)
    session.commit()
    cookie = URLSafeSerializer(app.config["SECRET_KEY"], salt="wallet-cookie").dumps(made.token)
    client.set_cookie("ls_wallet", cookie)
    return made.wallet.id


def _card(page: str, shop: str) -> str:
    return next(card for card in page.split('<li class="card">') if f"<h2>{shop}</h2>" in card)


def test_the_wallet_and_the_shop_list_show_running_campaigns_and_current_messages(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    bakery = make_shop(session, scheme, name="Bakkerij Zoet", sector="47.24").merchant
    make_merchant(session, scheme, name="Mode Anna", sector="47.71")
    named = make_merchant(session, scheme, name="Fietsen Piet", sector="47.64")
    now = utcnow()
    zone = ZoneInfo(scheme.timezone)
    last = (now.astimezone(zone) + timedelta(days=3)).date()
    ends = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
    campaigns.create_campaign(
        session, scheme, name="Bakkersweek", starts_at=now - timedelta(hours=1), ends_at=ends,
        budget_cents=100_000, multiplier_pct=200, sectors_=["47.24"], now=now)
    campaigns.create_campaign(
        session, scheme, name="Fietsdag", starts_at=now - timedelta(hours=1), ends_at=ends,
        budget_cents=100_000, bonus_points=5, merchant_ids=[named.id], now=now)
    # Not yet running: neither on the wallet nor as a badge.
    campaigns.create_campaign(
        session, scheme, name="Later", starts_at=now + timedelta(days=1), ends_at=ends,
        budget_cents=100_000, multiplier_pct=300, now=now)
    today = now.astimezone(zone).date()
    messages.post_message(session, scheme, title="Kerstmarkt op zaterdag",
                          body="Alle zaken open tot 20 uur.", starts_on=today,
                          ends_on=today + timedelta(days=2), by=None, now=now)
    messages.post_message(session, scheme, title="Oude wegenwerken", body="Voorbij.",
                          starts_on=today - timedelta(days=9),
                          ends_on=today - timedelta(days=1), by=None, now=now)
    session.commit()
    _phone(app, client, session, scheme)
    client.set_cookie("lang", "nl")

    page = client.get("/wallet").get_data(as_text=True)
    day = format_date(last, "EEEE d MMMM", locale="nl_BE")
    assert f"Dubbele punten bij Brood en banket tot {day}" in page
    assert f"5 bonuspunten bij Fietsen Piet tot {day}" in page
    assert "Driedubbele" not in page
    assert "Kerstmarkt op zaterdag" in page and "Alle zaken open tot 20 uur." in page
    assert "Oude wegenwerken" not in page

    shops = client.get("/shops").get_data(as_text=True)
    assert '<span class="badge">Dubbele punten</span>' in _card(shops, bakery.name)
    assert '<span class="badge">5 bonuspunten</span>' in _card(shops, "Fietsen Piet")
    assert "badge" not in _card(shops, "Mode Anna")

    client.set_cookie("lang", "fr")
    page = client.get("/wallet").get_data(as_text=True)
    day = format_date(last, "EEEE d MMMM", locale="fr_BE")
    assert f"Points doublés chez Boulangerie et confiserie jusqu&#39;au {day}" in page


def test_the_push_option_is_there_only_with_vapid_keys_and_stores_the_consent(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    wallet_id = _phone(app, client, session, scheme)
    client.set_cookie("lang", "en")
    page = client.get("/wallet").get_data(as_text=True)
    assert "data-push-key" not in page and "push.js" not in page
    token = csrf(client.get("/account").get_data(as_text=True))
    assert client.post("/wallet/push", json={}, headers={"X-CSRFToken": token}
                       ).status_code == 404

    private, public = webpush.generate_keys()
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_PUBLIC_KEY=public,
                      VAPID_SUBJECT="mailto:gemeente@example.be")
    page = client.get("/wallet").get_data(as_text=True)
    assert f'data-push-key="{public}"' in page and "push.js" in page
    assert 'data-csrf="' in page
    _, browser_key = webpush.generate_keys()  # any P-256 point will do as the browser's
    subscription = {"endpoint": "https://push.example.net/send/abc",
                    "keys": {"p256dh": browser_key, "auth": "c2VjcmV0LXNlY3JldC0xMg"}}
    body = {"subscription": subscription, "topics": ["points", "campaign"]}
    # Without the page's CSRF token nothing is stored.
    assert client.post("/wallet/push", json=body).status_code == 400
    bad = {**body, "subscription": {**subscription, "keys": {"p256dh": "AAAA", "auth": "x"}}}
    refused = client.post("/wallet/push", json=bad, headers={"X-CSRFToken": token})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "invalid_subscription"  # type: ignore[index]
    assert client.post("/wallet/push", json=body, headers={"X-CSRFToken": token}
                       ).status_code == 204
    session.expire_all()
    stored = notifications.subscriptions(session, wallet_id)
    assert [(s.endpoint, s.on_points, s.on_expiry, s.on_campaign, s.lang) for s in stored] == [
        ("https://push.example.net/send/abc", True, False, True, "en")]
    assert stored[0].consented_at is not None
    session.commit()

    page = client.get("/wallet").get_data(as_text=True)
    assert "Notifications are on for:" in page and "push.js" not in page
    off = client.post("/wallet/push/off", data={"csrf_token": csrf(page)})
    assert off.status_code == 303
    session.expire_all()
    assert session.query(PushSubscription).filter_by(wallet_id=wallet_id).count() == 0
