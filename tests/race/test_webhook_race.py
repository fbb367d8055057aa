"""Webhook senders racing: two delivery runs at the same moment (two workers, or the
worker and `loyalty webhooks deliver`) send each delivery once."""

from __future__ import annotations

import threading
from datetime import datetime

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from lokaal_sparen import tasks
from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import Role, WebhookDelivery
from loyalty.shoppers import wallets
from loyalty.shops import webhooks
from tests.factories import make_shop, make_user
from tests.webhook_receiver import receiver

TIMEOUT = 60


def test_two_delivery_runs_at_once_send_each_delivery_once(app: Flask, db: Session) -> None:
    shop = make_shop(db)
    owner = make_user(db, shop.scheme, Role.MERCHANT_OWNER, shop.merchant)
    # A slow receiver: the first run is still sending when the second looks.
    with receiver(200, delay=0.5) as hook:
        endpoint = webhooks.create_endpoint(db, shop.merchant, hook.url, ["claim.collected"],
                                            owner, utcnow(), allow_local=True)
        for _ in range(3):
            wallet = wallets.create_wallet(db, shop.scheme).wallet
            sale = claims.create_claim(db, shop.merchant, 1000, utcnow())
            claims.collect(db, sale.claim, wallet, utcnow())
        db.commit()
        barrier = threading.Barrier(2, timeout=TIMEOUT)
        now = utcnow()
        summaries: list[str] = []

        def run(moment: datetime) -> None:
            barrier.wait()
            with app.app_context():
                summaries.append(tasks.deliver_webhooks(lambda line: None, moment).summary)

        threads = [threading.Thread(target=run, args=(now,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert len(hook.received) == 3, summaries
    rows = db.scalars(sa.select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id)).all()
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 1)] * 3
    bodies = {r.body for r in hook.received}
    assert len(bodies) == 3
