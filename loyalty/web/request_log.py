"""Every request has an id, which the response carries (``X-Request-Id``) and every
log line written while answering it names: a shop that reports "the till said
something went wrong at 10:42" can be matched to the server's log in one search.

Log lines are JSON objects, one a line, which a log collector reads as fields.
A request id sent by a proxy in front (Caddy can add one) is kept if it looks
like an id; anything else is replaced, so a client cannot write into the log.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}", re.ASCII)
# Our own loggers; Flask's app logger is a child of the composition root's name.
LOGGERS = ("loyalty", "lokaal_sparen")


def request_id() -> str:
    return str(g.get("request_id", "-")) if has_request_context() else "-"


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def init_app(app: Flask) -> None:
    @app.before_request
    def _take_id() -> None:
        given = request.headers.get(HEADER, "")
        g.request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex

    access = logging.getLogger("loyalty.access")

    @app.after_request
    def _give_id(response: Any) -> Any:
        response.headers[HEADER] = request_id()
        if app.config.get("ACCESS_LOG"):
            started = g.get("request_started")
            ms = round((time.perf_counter() - started) * 1000, 1) if started else None
            access.info("%s %s %s %s ms", request.method, request.path, response.status_code,
                        ms)
        return response

    for name in LOGGERS:
        logger = logging.getLogger(name)
        if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
            continue  # a second app in the same process (the tests)
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
