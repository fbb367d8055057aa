"""Grants from the municipality: euros per wallet from a capped budget."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from loyalty.api.auth import MUNICIPALITY_STAFF, require_staff, require_wallet
from loyalty.api.common import AUTH
from loyalty.api.idempotency import idempotent
from loyalty.infra.db import utcnow
from loyalty.models import GrantWho, Role, Scheme
from loyalty.money import grants, social
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
        metadata={"description": "anyone: anyone with the link; code: holders of a one-time "
                                 "code (POST /grants/{id}/codes); villages: wallets whose home "
                                 "village is one of `villages`"},
    )
    villages = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list, validate=validate.Length(max=100),
        metadata={"description": "for who \"villages\": villages of the scheme"},
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
    who = fields.String(required=True)
    villages = fields.List(fields.String(), required=True)


class GrantClaim(Schema):
    code = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "for a grant for holders of a code: the one-time code"},
    )


class CodesRequest(Schema):
    count = fields.Integer(required=True, strict=True,
                           validate=validate.Range(1, grants.codes.MAX_CODES))


class CodesIssued(Schema):
    codes = fields.List(fields.String(), required=True,
                        metadata={"description": "shown once: only their hashes are kept"})


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
            villages=body["villages"],
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
            "who": found.grant.who,
            "villages": list(found.grant.villages or []),
        }


@blp.route("/grants/<int:grant_id>/codes")
class GrantCodes(MethodView):
    @blp.doc(security=AUTH)
    @blp.arguments(CodesRequest())
    @blp.response(201, CodesIssued)
    def post(self, body: dict[str, Any], grant_id: int) -> dict[str, Any]:
        """Issue one-time codes of a grant for holders of a code, to print and hand out."""
        user = require_staff(Role.MUNICIPALITY_ADMIN)
        session = db()
        grant = grants.get_grant(session, user.scheme_id, grant_id)
        return {"codes": grants.issue_codes(session, grant, body["count"], utcnow(),
                                            issued_by=user)}


@blp.route("/grants/<int:grant_id>/claim")
class GrantClaimOne(MethodView):
    @blp.arguments(GrantClaim(), required=False)
    @blp.response(200, GrantClaimed)
    @blp.alt_response(403, description="the grant is for code holders or residents of villages")
    @blp.alt_response(409, description="already claimed by this wallet, the budget is spent, "
                                       "or the code was used")
    @blp.alt_response(410, description="outside the grant's dates")
    @blp.doc(security=AUTH)
    def post(self, body: dict[str, Any] | None, grant_id: int) -> dict[str, Any]:
        """Put the grant's amount in the calling wallet's euros, once per wallet."""
        wallet = require_wallet()
        session = db()
        claimed = grants.claim(
            session, grants.get_grant(session, wallet.scheme_id, grant_id), wallet, utcnow(),
            code=(body or {}).get("code"),
        )
        return {"euro_cents_credited": claimed.credited_cents, "euro_cents": claimed.euro_cents}


class SocialCodeEntry(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40),
                         metadata={"description": "the one-time code of the social service"})


class SocialEntitled(Schema):
    entitled_until = fields.Date(required=True,
                                 metadata={"description": "the last day of the entitlement"})


@blp.route("/wallet/social-tariff")
class WalletSocialTariff(MethodView):
    @blp.arguments(SocialCodeEntry())
    @blp.response(200, SocialEntitled)
    @blp.alt_response(403, description="not a code of the social service")
    @blp.alt_response(409, description="the code was already used")
    @blp.alt_response(410, description="the code's date has passed")
    @blp.doc(security=AUTH)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Enter the social service's one-time code: the wallet gets the social tariff
        until the code's date. Nothing but the code is asked or stored."""
        wallet = require_wallet()
        session = db()
        scheme = session.get_one(Scheme, wallet.scheme_id)
        now = utcnow()
        until = social.enter_code(session, wallet, body["code"],
                                  now.astimezone(ZoneInfo(scheme.timezone)).date(), now)
        return {"entitled_until": until}
