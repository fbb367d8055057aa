"""The Idempotency-Key header on value-moving POSTs."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request

from loyalty.api.auth import current_principal
from loyalty.infra import idempotency
from loyalty.web import db

HEADER = "Idempotency-Key"


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Replay the first successful answer to a repeated (scope, key) without running
    the view again. Without the header the view simply runs."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        idempotency.check_key(key)
        scope = current_principal().scope
        print_ = idempotency.fingerprint(request.method, request.path, request.get_data())
        session = db()
        stored = idempotency.find(session, scope, key, print_)
        if stored is not None:
            return _replay(stored)
        try:
            record = idempotency.reserve(session, scope, key, print_)
        except sa.exc.IntegrityError:
            # A concurrent request with the same key won and has committed:
            # start over in a fresh transaction and answer what it answered.
            session.rollback()
            stored = idempotency.find(session, scope, key, print_)
            if stored is None:  # the winner failed and stored nothing: run again
                return view(*args, **kwargs)
            return _replay(stored)
        response = current_app.make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300:
            idempotency.store(session, record, response.status_code, response.get_json())
        return response

    return wrapper


def _replay(stored: idempotency.StoredAnswer) -> Response:
    response = Response(
        json.dumps(stored.body), status=stored.status_code, mimetype="application/json"
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response
