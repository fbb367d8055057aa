"""The town's messages page: an admin posts (audited), an analyst reads, the wallet shows it."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.shoppers import wallets
from tests.forms import csrf
from tests.municipality_dashboard.conftest import Municipality, audit_rows, html


def test_an_admin_posts_a_message_that_the_wallets_show_while_current(
    app: Flask, session: Session, town: Municipality
) -> None:
    today = utcnow().astimezone(ZoneInfo(town.scheme.timezone)).date()
    page = town.admin_client.get("/dashboard/messages")
    assert page.status_code == 200 and "No messages yet." in html(page)
    token = csrf(html(page))
    backwards = town.admin_client.post("/dashboard/messages", data={
        "csrf_token": token, "title": "Markt", "body": "Zaterdag.",
        "starts_on": today.isoformat(), "ends_on": (today - timedelta(days=1)).isoformat()})
    assert backwards.status_code == 422
    posted = town.admin_client.post("/dashboard/messages", data={
        "csrf_token": token, "title": "Wegenwerken Kerkstraat",
        "body": "De zaken blijven open.\nParkeer op de Markt.",
        "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=6)).isoformat()})
    assert posted.status_code == 303
    [entry] = audit_rows(session, town.scheme.id, "message.create")
    assert entry.actor_id == town.admin.id and entry.details["title"] == "Wegenwerken Kerkstraat"

    # An analyst reads the list but cannot post.
    read = town.analyst_client.get("/dashboard/messages")
    assert "Wegenwerken Kerkstraat" in html(read) and "Post the message" not in html(read)
    refused = town.analyst_client.post("/dashboard/messages", data={
        "csrf_token": csrf(html(town.analyst_client.get("/account/password"))),
        "title": "x", "body": "y", "starts_on": today.isoformat(), "ends_on": today.isoformat()})
    assert refused.status_code == 403

    made = wallets.create_wallet(session, town.scheme)
    session.commit()
    phone = app.test_client()
    phone.set_cookie("ls_wallet", URLSafeSerializer(
        app.config["SECRET_KEY"], salt="wallet-cookie").dumps(made.token))
    wallet = html(phone.get("/wallet"))
    assert "Wegenwerken Kerkstraat" in wallet and "Parkeer op de Markt." in wallet
