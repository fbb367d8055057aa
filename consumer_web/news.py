"""Campaigns and the town's messages in the wallet, and the shopper's notification choices:
Web Push (per browser, chosen topics) and the weekly e-mail digest, each with a way out."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, jsonify, redirect, request, url_for

from consumer_web.common import bp, current_language, page, wallet_or_home
from consumer_web.forms import ActionForm
from loyalty.errors import LoyaltyError
from loyalty.infra import webpush
from loyalty.infra.db import utcnow
from loyalty.models import Scheme, Wallet
from loyalty.shoppers import notifications
from loyalty.town import messages
from loyalty.web import campaign_words, db, unsubscribe, writes


def wallet_news(wallet: Wallet, scheme: Scheme) -> dict[str, Any]:
    """What the wallet page shows of campaigns, messages and the notification choices."""
    session = db()
    now = utcnow()
    keys = webpush.keys_from(current_app.config)
    subscribed = notifications.subscriptions(session, wallet.id)
    return {
        "campaign_lines": campaign_words.running(session, scheme.id, now),
        "town_messages": messages.current(
            session, scheme.id, now.astimezone(ZoneInfo(scheme.timezone)).date()),
        "push_key": keys.public_key if keys else None,
        "push_on": subscribed,
        "push_topics": {t for s in subscribed for t in notifications.TOPICS
                        if getattr(s, f"on_{t}")},
        "digest": notifications.digest_of(session, wallet.id),
        "wallet_email": wallet.email,
        "news_form": ActionForm(),
    }


@bp.post("/wallet/push")
def push_subscribe() -> Response:
    """The browser's subscription from push.js (JSON, CSRF in the X-CSRFToken header)."""
    wallet = wallet_or_home()
    if webpush.keys_from(current_app.config) is None:
        abort(404)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _json_error("invalid_subscription", "send the subscription as JSON")
    sub = body.get("subscription")
    keys = sub.get("keys") if isinstance(sub, dict) else None
    topics = body.get("topics")
    if not (isinstance(sub, dict) and isinstance(keys, dict) and isinstance(topics, list)):
        return _json_error("invalid_subscription", "subscription, its keys and topics needed")
    try:
        notifications.subscribe(
            db(), wallet,
            endpoint=str(sub.get("endpoint") or ""),
            p256dh=str(keys.get("p256dh") or ""), auth=str(keys.get("auth") or ""),
            topics=[str(t) for t in topics], lang=current_language(), now=utcnow(),
        )
    except LoyaltyError as error:
        return _json_error(error.code, str(error))
    return Response(status=204)


def _json_error(code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = 422
    return response


@bp.post("/wallet/push/off")
def push_off() -> Response:
    """Turn push off: every browser's subscription of this wallet is forgotten."""
    wallet = wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    notifications.turn_off(db(), wallet.id)
    return redirect(url_for("consumer.wallet_page", _anchor="notifications"), 303)  # type: ignore[return-value]


@bp.post("/wallet/digest")
def digest_choice() -> Response:
    """The weekly e-mail digest on or off (it needs the wallet's recovery e-mail)."""
    wallet = wallet_or_home()
    if not ActionForm().validate_on_submit():
        abort(400)
    if request.form.get("digest") == "on":
        try:
            notifications.digest_on(db(), wallet, current_language(), utcnow())
        except LoyaltyError:
            return redirect(url_for("consumer.account_page"), 303)  # type: ignore[return-value]
    else:
        notifications.digest_off(db(), wallet.id)
    return redirect(url_for("consumer.wallet_page", _anchor="notifications"), 303)  # type: ignore[return-value]


@bp.get("/unsubscribe/<token>")
@writes  # the link itself turns the digest off
def digest_unsubscribe(token: str) -> Response:
    """The digest's one-click unsubscribe: the signed link itself is the proof, so it works
    on any device, without the wallet's cookie. Doing it twice changes nothing."""
    wallet_id = unsubscribe.wallet_of(token)
    if wallet_id is None:
        return page("unsubscribed.html", 404, done=False)
    notifications.digest_off(db(), wallet_id)
    return page("unsubscribed.html", done=True)


@bp.get("/unsubscribe/reminders/<token>")
@writes  # the link itself turns the reminders off
def reminders_unsubscribe(token: str) -> Response:
    """The expiry reminder's one-click unsubscribe, like the digest's."""
    wallet_id = unsubscribe.wallet_of(token, unsubscribe.REMINDERS)
    if wallet_id is None:
        return page("unsubscribed.html", 404, done=False, reminders=True)
    notifications.reminder_mail_off(db(), wallet_id, utcnow())
    return page("unsubscribed.html", done=True, reminders=True)


