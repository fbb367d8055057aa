"""Staff tokens for scripts and integrations."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from loyalty import staff
from loyalty.api.schemas import TokenRequest, TokenResponse
from loyalty.db import utcnow
from loyalty.errors import Unauthorized
from loyalty.web import db, independent_transaction

blp = Blueprint("tokens", __name__, description="Staff authentication")


@blp.route("/auth/token")
class TokenView(MethodView):
    @blp.arguments(TokenRequest())
    @blp.response(201, TokenResponse)
    @blp.alt_response(401, description="wrong e-mail address or password")
    @blp.alt_response(429, description="too many failed attempts in 15 minutes")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange a staff e-mail and password for a revocable bearer token."""
        session = db()
        now = utcnow()
        ip = request.remote_addr or "unknown"
        staff.check_throttle(session, body["email"], ip, now)
        try:
            user = staff.authenticate(session, body["email"], body["password"])
        except Unauthorized:
            # End our transaction first: on SQLite it holds the write lock.
            session.rollback()
            with independent_transaction() as side:
                staff.record_failure(side, body["email"], ip, now)
            raise
        secret = staff.open_session(session, user, now)
        return {"token": secret.secret, "expires_at": now + staff.API_TOKEN_LIFETIME}
