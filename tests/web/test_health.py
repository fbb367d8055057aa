"""Health and metrics: /healthz for anyone, /metrics only for the machine itself or
with the metrics token, in Prometheus's text format, across gunicorn's workers."""

from __future__ import annotations

import re

import requests
import sqlalchemy as sa
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.infra.db import utcnow
from loyalty.models import Claim, ClaimStatus
from loyalty.shoppers import wallets
from tests.conftest import LiveServer
from tests.factories import make_merchant, make_scheme


def _samples(text: str) -> dict[str, float]:
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_answers_anyone(app: Flask) -> None:
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200 and answer.json == {"status": "ok"}


def test_metrics_are_for_the_machine_itself_or_the_token_holder(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    wallet = wallets.create_wallet(session, scheme).wallet
    sale = claims.create_claim(session, shop, 2000, utcnow())
    claims.collect(session, sale.claim, wallet, utcnow())
    session.commit()
    outside = app.test_client()  # the tests' clients come from 10.x addresses
    refused = outside.get("/metrics")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    app.config["METRICS_TOKEN"] = "m3tr1cs-t0ken-for-the-monitor"
    try:
        answer = outside.get("/metrics",
                             headers={"Authorization": "Bearer m3tr1cs-t0ken-for-the-monitor"})
    finally:
        app.config["METRICS_TOKEN"] = None
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    figures = _samples(answer.get_data(as_text=True))
    created = session.scalar(sa.select(sa.func.count()).select_from(Claim))
    collected = session.scalar(sa.select(sa.func.count()).select_from(Claim)
                               .where(Claim.status == ClaimStatus.CLAIMED))
    session.rollback()
    assert figures["lokaal_sparen_sales_created_total[]"] == created
    assert figures["lokaal_sparen_sales_collected_total[]"] == collected
    local = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200


def test_request_timings_from_every_worker(live_server: LiveServer) -> None:
    """`loyalty serve` runs four workers: one scrape counts the requests of them all."""
    for _ in range(40):
        assert requests.get(f"{live_server.url}/healthz", timeout=10).status_code == 200
    text = requests.get(f"{live_server.url}/metrics", timeout=10).text
    counts = [
        float(value) for value in re.findall(
            r'^lokaal_sparen_request_seconds_count\{endpoint="health\.healthz",'
            r'method="GET"\} (\S+)$', text, re.M)
    ]
    assert counts and counts[0] >= 40, text[:2000]
