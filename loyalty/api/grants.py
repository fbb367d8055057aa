"""Grants from the municipality: euros per wallet from a capped budget."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from loyalty.api.auth import MUNICIPALITY_STAFF, require_staff, require_wallet
from loyalty.api.common import AUTH
from loyalty.api.idempotency import idempotent
from loyalty.infra.db import utcnow
from loyalty.models import GrantWho, Role, Scheme
from loyalty.money import grants
from loyalty.web import db, public_url

blp = Blueprint("grants", __name__, description="Grants from the municipality (town money)")


class GrantCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=grants.MAX_NAME))
    amount_cents = fields.Integer(
        required=True, strict=True, validate=validate.Range(1, grants.MAX_AMOUNT_CENTS),
        metadata={"description": "euro cents each wallet gets"},
    )
    budget_cents = fields.Integer(
        required=True, strict=True, validate=validate.Range(1, grants.MAX_BUDGET_CENTS),
        metadata={"description": "the hard cap on all claims together"},
    )
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    who = fields.String(
        load_default=GrantWho.ANYONE.value,
        validate=validate.OneOf([w.value for w in GrantWho]),
        metadata={"description": "anyone: anyone with the link"},
    )


class GrantCreated(Schema):
    id = fields.Integer(required=True)
    claim_url = fields.String(required=True, metadata={"description": "the page to claim it"})


class GrantView(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    amount_cents = fields.Integer(required=True)
    budget_cents = fields.Integer(required=True)
    granted_cents = fields.Integer(required=True)
    claims = fields.Integer(required=True)


class GrantClaimed(Schema):
    euro_cents_credited = fields.Integer(required=True)
    euro_cents = fields.Integer(required=True, metadata={"description": "the new euro balance"})


def claim_url(grant_id: int) -> str:
    return public_url(f"/g/{grant_id}")


@blp.route("/grants")
class GrantsView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.arguments(GrantCreate())
    @blp.response(201, GrantCreated)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a grant programme and move its budget from the municipality's account."""
        user = require_staff(Role.MUNICIPALITY_ADMIN)
        session = db()
        grant = grants.create_grant(
            session,
            session.get_one(Scheme, user.scheme_id),
            name=body["name"],
            amount_cents=body["amount_cents"],
            budget_cents=body["budget_cents"],
            starts_at=body["starts_at"],
            ends_at=body["ends_at"],
            who=body["who"],
            now=utcnow(),
            created_by=user.id,
        )
        return {"id": grant.id, "claim_url": claim_url(grant.id)}


@blp.route("/grants/<int:grant_id>")
class GrantOne(MethodView):
    @blp.response(200, GrantView)
    @blp.doc(security=AUTH)
    def get(self, grant_id: int) -> dict[str, Any]:
        """A grant programme with its take-up, read from its budget account."""
        user = require_staff(*MUNICIPALITY_STAFF)
        session = db()
        found = grants.figures(session, grants.get_grant(session, user.scheme_id, grant_id))
        return {
            "id": found.grant.id,
            "name": found.grant.name,
            "amount_cents": found.grant.amount_cents,
            "budget_cents": found.grant.budget_cents,
            "granted_cents": found.granted_cents,
            "claims": found.claims,
        }


@blp.route("/grants/<int:grant_id>/claim")
class GrantClaim(MethodView):
    @blp.response(200, GrantClaimed)
    @blp.alt_response(409, description="already claimed by this wallet, or the budget is spent")
    @blp.alt_response(410, description="outside the grant's dates")
    @blp.doc(security=AUTH)
    def post(self, grant_id: int) -> dict[str, Any]:
        """Put the grant's amount in the calling wallet's euros, once per wallet."""
        wallet = require_wallet()
        session = db()
        claimed = grants.claim(
            session, grants.get_grant(session, wallet.scheme_id, grant_id), wallet, utcnow()
        )
        return {"euro_cents_credited": claimed.credited_cents, "euro_cents": claimed.euro_cents}
