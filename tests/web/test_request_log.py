"""Request ids: the response carries one, the log lines of that request name it,
and a client cannot write its own text into the log through the header."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask import Flask

from loyalty.web.request_log import JsonFormatter


def test_every_response_carries_a_request_id(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    # A proxy's id is kept; anything that does not look like an id is replaced.
    kept = client.get("/healthz", headers={"X-Request-Id": "caddy-7f3a9c1e"})
    assert kept.headers["X-Request-Id"] == "caddy-7f3a9c1e"
    forged = client.get("/healthz", headers={"X-Request-Id": 'x", "level": "FAKE'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-Id"])


def test_log_lines_are_json_with_the_request_id(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    app.config["ACCESS_LOG"] = True
    try:
        with caplog.at_level(logging.INFO, logger="loyalty.access"):
            answer = app.test_client().get("/healthz?x=1",
                                            headers={"X-Request-Id": "req-12345678"})
    finally:
        app.config["ACCESS_LOG"] = False
    record = next(r for r in caplog.records if r.name == "loyalty.access")
    line = json.loads(JsonFormatter().format(record))
    assert answer.headers["X-Request-Id"] == "req-12345678"
    assert line["request_id"] == "req-12345678"
    assert line["level"] == "INFO" and line["logger"] == "loyalty.access"
    assert line["message"].startswith("GET /healthz 200 ")
