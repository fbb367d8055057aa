"""Staff tokens for scripts and integrations."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from loyalty.access import staff, totp
from loyalty.api.schemas import TokenRequest, TokenResponse
from loyalty.errors import Forbidden, Unauthorized
from loyalty.infra.db import utcnow
from loyalty.web import db, independent_transaction

blp = Blueprint("tokens", __name__, description="Staff authentication")


@blp.route("/auth/token")
class TokenView(MethodView):
    @blp.arguments(TokenRequest())
    @blp.response(201, TokenResponse)
    @blp.alt_response(
        401,
        description="wrong e-mail address or password (`bad_credentials`); two-factor "
        "sign-in is set up and `otp` is missing (`otp_required`) or wrong or used (`bad_otp`)",
    )
    @blp.alt_response(
        403,
        description="an admin or shop owner without two-factor sign-in: sign in on the web "
        "first and set it up (`totp_enrolment_required`); the user's shop is suspended "
        "(`merchant_suspended`)",
    )
    @blp.alt_response(429, description="too many failed attempts in 15 minutes")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange a staff e-mail, password and two-factor code for a revocable token."""
        session = db()
        now = utcnow()
        ip = request.remote_addr or "unknown"
        staff.check_throttle(session, body["email"], ip, now)
        try:
            user = staff.authenticate(session, body["email"], body["password"])
            if totp.is_enrolled(user):
                if not body.get("otp"):
                    raise Unauthorized(
                        "two-factor sign-in is set up: send the current code as otp",
                        code="otp_required",
                    )
                totp.verify(session, user, body["otp"], now)
        except Unauthorized as error:
            # End our transaction first: on SQLite it holds the write lock.
            session.rollback()
            # A missing code is no guess; a wrong one counts like a wrong password.
            if error.code != "otp_required":
                with independent_transaction() as side:
                    staff.record_failure(side, body["email"], ip, now)
            raise
        if totp.must_enrol(user):
            raise Forbidden(
                "your role requires two-factor sign-in: sign in on the web once to set it up",
                code="totp_enrolment_required",
            )
        secret = staff.open_session(session, user, now)
        return {"token": secret.secret, "expires_at": now + staff.API_TOKEN_LIFETIME}
