"""Municipal campaigns: bonus points from a capped budget, and their evaluation."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from loyalty.analytics import evaluation
from loyalty.api.auth import MUNICIPALITY_STAFF, require_staff
from loyalty.api.common import AUTH
from loyalty.api.idempotency import idempotent
from loyalty.earning import campaigns
from loyalty.errors import Conflict
from loyalty.infra.db import utcnow
from loyalty.models import Role, Scheme
from loyalty.web import db

blp = Blueprint("campaigns", __name__, description="Campaigns and their evaluation")


class CampaignCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    budget_cents = fields.Integer(required=True, strict=True)
    multiplier = fields.Decimal(metadata={"description": "2: double points; or bonus_points"})
    bonus_points = fields.Integer(strict=True, metadata={"description": "fixed bonus per sale"})
    sectors = fields.List(
        fields.String(validate=validate.Length(max=12)),
        validate=validate.Length(max=100),
        metadata={"description": "NACE-BEL codes or prefixes; none and no merchant_ids: all"},
    )
    merchant_ids = fields.List(fields.Integer(strict=True), validate=validate.Length(max=1000))


class CampaignCreated(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)


class CampaignView(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)
    budget_cents = fields.Integer(required=True)
    spent_cents = fields.Integer(required=True)
    bonus_points_given = fields.Integer(required=True)


class EvaluationView(Schema):
    effect_pct = fields.Float(required=True)
    ci_low_pct = fields.Float(required=True)
    ci_high_pct = fields.Float(required=True)
    method = fields.String(required=True)
    summary = fields.String(required=True, metadata={"description": "in the caller's language"})


@blp.route("/campaigns")
class CampaignsView(MethodView):
    @blp.doc(security=AUTH)
    @idempotent
    @blp.arguments(CampaignCreate())
    @blp.response(201, CampaignCreated)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a campaign and move its budget from the municipality's account."""
        user = require_staff(Role.MUNICIPALITY_ADMIN)
        session = db()
        scheme = session.get_one(Scheme, user.scheme_id)
        multiplier = body.get("multiplier")
        now = utcnow()
        campaign = campaigns.create_campaign(
            session,
            scheme,
            name=body["name"],
            starts_at=body["starts_at"],
            ends_at=body["ends_at"],
            budget_cents=body["budget_cents"],
            now=now,
            multiplier_pct=None if multiplier is None else campaigns.parse_multiplier(multiplier),
            bonus_points=body.get("bonus_points"),
            sectors_=body.get("sectors", []),
            merchant_ids=body.get("merchant_ids", []),
            created_by=user.id,
        )
        return {"id": campaign.id, "status": campaigns.figures(session, campaign, now).status}


@blp.route("/campaigns/<int:campaign_id>")
class CampaignOne(MethodView):
    @blp.response(200, CampaignView)
    @blp.doc(security=AUTH)
    def get(self, campaign_id: int) -> dict[str, Any]:
        """A campaign with the live spend of its budget."""
        user = require_staff(*MUNICIPALITY_STAFF)
        session = db()
        found = campaigns.figures(
            session, campaigns.get_campaign(session, user.scheme_id, campaign_id), utcnow()
        )
        return {
            "id": found.campaign.id,
            "name": found.campaign.name,
            "status": found.status,
            "budget_cents": found.budget_cents,
            "spent_cents": found.spent_cents,
            "bonus_points_given": found.bonus_points_given,
        }


@blp.route("/campaigns/<int:campaign_id>/evaluation")
class CampaignEvaluation(MethodView):
    @blp.response(200, EvaluationView)
    @blp.alt_response(409, description="the campaign has not ended, or too few shops to say")
    @blp.doc(security=AUTH)
    def get(self, campaign_id: int) -> dict[str, Any]:
        """Difference-in-differences: participating shops against the others."""
        user = require_staff(*MUNICIPALITY_STAFF)
        session = db()
        campaign = campaigns.get_campaign(session, user.scheme_id, campaign_id)
        try:
            result = evaluation.evaluate_campaign(session, campaign, utcnow())
        except evaluation.NotEvaluable as error:
            raise Conflict(NOT_EVALUABLE[error.reason], code=error.reason) from None
        estimate = result.estimate
        return {
            "effect_pct": estimate.effect_pct,
            "ci_low_pct": estimate.ci_low_pct,
            "ci_high_pct": estimate.ci_high_pct,
            "method": estimate.method,
            "summary": evaluation.summary(estimate, str(get_locale())),
        }


NOT_EVALUABLE = {
    "not_ended": "the campaign is evaluated after its end",
    "too_few_shops": "fewer than 3 participating or other shops sold in both periods",
    "too_little_history": "not enough earlier weeks with sales to compare with",
    "too_noisy": "the released figures of a group average zero or less in a period: "
                 "too few sales for the noise added for privacy",
}
