"""Staff tokens for scripts and integrations."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from loyalty import staff
from loyalty.api.schemas import TokenRequest, TokenResponse
from loyalty.db import utcnow
from loyalty.web import db

blp = Blueprint("tokens", __name__, description="Staff authentication")


@blp.route("/auth/token")
class TokenView(MethodView):
    @blp.arguments(TokenRequest)
    @blp.response(201, TokenResponse)
    @blp.alt_response(401, description="wrong e-mail address or password")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange a staff e-mail and password for a revocable bearer token."""
        session = db()
        user = staff.authenticate(session, body["email"], body["password"])
        now = utcnow()
        secret = staff.open_session(session, user, now)
        return {"token": secret.secret, "expires_at": now + staff.API_TOKEN_LIFETIME}
