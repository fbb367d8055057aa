"""Shops: listing, creation by the municipality, till keys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from loyalty.access import staff
from loyalty.api.auth import require_staff
from loyalty.api.common import AUTH
from loyalty.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    MerchantCreate,
    MerchantCreated,
    MerchantListQuery,
    MerchantSummary,
    StampCardCreate,
    StampCardView,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryView,
    WebhookView,
)
from loyalty.earning import stamps
from loyalty.errors import Forbidden, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import (
    DeliveryStatus,
    Merchant,
    MerchantStatus,
    Role,
    Scheme,
    StaffUser,
    StampCard,
    WebhookDelivery,
    WebhookEndpoint,
)
from loyalty.oversight import audit
from loyalty.shops import webhooks
from loyalty.town import schemes
from loyalty.web import db

blp = Blueprint("merchants", __name__, description="Participating shops")


@blp.route("/merchants")
class MerchantsView(MethodView):
    @blp.arguments(MerchantListQuery(), location="query")
    @blp.response(200, MerchantSummary(many=True))
    def get(self, query: dict[str, Any]) -> list[Merchant]:
        """The approved shops, where points can be earned and spent."""
        session = db()
        scheme_id = None
        if "scheme" in query:
            scheme_id = schemes.get_scheme(session, query["scheme"]).id
        return schemes.approved_merchants(session, scheme_id)

    @blp.arguments(MerchantCreate())
    @blp.response(201, MerchantCreated)
    @blp.doc(security=AUTH)
    def post(self, body: dict[str, Any]) -> Merchant:
        """Add a shop to the admin's scheme; it is approved at once."""
        admin = require_staff(Role.MUNICIPALITY_ADMIN)
        session = db()
        scheme = session.get_one(Scheme, admin.scheme_id)
        merchant = schemes.create_merchant(session, scheme, status=MerchantStatus.APPROVED, **body)
        audit.record(session, admin, "merchant.create", merchant, {"sector": merchant.sector})
        return merchant


def _shop_and_manager(merchant_id: int) -> tuple[Merchant, StaffUser]:
    """The shop and the caller, if the caller is its owner or its scheme's admin
    (keys, stamp cards)."""
    user = require_staff(Role.MERCHANT_OWNER, Role.MUNICIPALITY_ADMIN)
    merchant = db().get(Merchant, merchant_id)
    if merchant is None or merchant.scheme_id != user.scheme_id:
        raise NotFound("no such shop")
    if user.role == Role.MERCHANT_OWNER and user.merchant_id != merchant.id:
        raise Forbidden("you can only manage your own shop", code="wrong_merchant")
    return merchant, user


def _audit_if_admin(user: StaffUser, action: str, merchant: Merchant, **details: object) -> None:
    # The municipality's actions on a shop are audited; the owner's own are not admin actions.
    if user.role == Role.MUNICIPALITY_ADMIN:
        audit.record(db(), user, action, merchant, dict(details))


@blp.route("/merchants/<int:merchant_id>/api-keys")
class ApiKeysView(MethodView):
    @blp.arguments(ApiKeyCreate())
    @blp.response(201, ApiKeyCreated)
    @blp.doc(security=AUTH)
    def post(self, body: dict[str, Any], merchant_id: int) -> dict[str, Any]:
        """A new till key for this shop (owner or municipality admin). Shown once."""
        merchant, user = _shop_and_manager(merchant_id)
        secret = staff.create_till_key(db(), merchant, utcnow(), label=body.get("label"))
        _audit_if_admin(user, "till_key.create", merchant, till_key_id=secret.id)
        return {"id": secret.id, "key": secret.secret, "prefix": secret.secret[:10]}


@blp.route("/merchants/<int:merchant_id>/api-keys/<int:key_id>")
class ApiKeyView(MethodView):
    @blp.response(204)
    @blp.doc(security=AUTH)
    def delete(self, merchant_id: int, key_id: int) -> None:
        """Revoke a till key at once."""
        merchant, user = _shop_and_manager(merchant_id)
        staff.revoke_till_key(db(), merchant, key_id, utcnow())
        _audit_if_admin(user, "till_key.revoke", merchant, till_key_id=key_id)


def merchant_name(merchant_id: int | None) -> str | None:
    if merchant_id is None:
        return None
    return db().scalar(sa.select(Merchant.name).where(Merchant.id == merchant_id))


@blp.route("/merchants/<int:merchant_id>/stamp-cards")
class StampCardsView(MethodView):
    @blp.response(200, StampCardView(many=True))
    def get(self, merchant_id: int) -> list[StampCard]:
        """A shop's active stamp cards."""
        merchant = db().get(Merchant, merchant_id)
        if merchant is None or merchant.status != MerchantStatus.APPROVED:
            raise NotFound("no such shop")
        return stamps.cards_of(db(), merchant_id)

    @blp.arguments(StampCardCreate())
    @blp.response(201, StampCardView)
    @blp.doc(security=AUTH)
    def post(self, body: dict[str, Any], merchant_id: int) -> StampCard:
        """Define a stamp card (the shop's owner or the municipality admin)."""
        merchant, user = _shop_and_manager(merchant_id)
        card = stamps.create_card(db(), merchant, **body)
        _audit_if_admin(user, "stamp_card.create", merchant, stamp_card_id=card.id)
        return card


def _webhook(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"id": endpoint.id, "url": endpoint.url, "events": endpoint.event_list,
            "active": endpoint.active, "created_at": endpoint.created_at}


def _delivery(delivery: WebhookDelivery) -> dict[str, Any]:
    pending = delivery.status == DeliveryStatus.PENDING
    return {
        "id": delivery.id, "event": delivery.event_type, "event_id": delivery.event_id,
        "status": delivery.status, "attempts": delivery.attempts,
        "delivered_at": delivery.delivered_at, "created_at": delivery.created_at,
        "next_attempt_at": delivery.next_attempt_at if pending else None,
        "last_status_code": delivery.last_status_code, "last_error": delivery.last_error,
    }


@blp.route("/merchants/<int:merchant_id>/webhooks")
class WebhooksView(MethodView):
    @blp.response(200, WebhookView(many=True))
    @blp.doc(security=AUTH)
    def get(self, merchant_id: int) -> list[dict[str, Any]]:
        """The shop's webhooks (owner or municipality admin), active first."""
        merchant, _user = _shop_and_manager(merchant_id)
        return [_webhook(e) for e in webhooks.endpoints_of(db(), merchant.id)]

    @blp.arguments(WebhookCreate())
    @blp.response(201, WebhookCreated)
    @blp.alt_response(409, description="the shop has the most active webhooks it may have")
    @blp.doc(security=AUTH)
    def post(self, body: dict[str, Any], merchant_id: int) -> dict[str, Any]:
        """Register a URL of the shop's own system for some events (owner or
        municipality admin). Each event is POSTed as ``{"id", "type", "created_at",
        "data"}`` with the header ``Lokaal-Signature: t=<unix seconds>,v1=<hex
        HMAC-SHA256 of "<t>.<raw body>" keyed with the secret>``; any 2xx ends a
        delivery, anything else is retried with backoff for a day. The secret is
        shown in this answer only."""
        merchant, user = _shop_and_manager(merchant_id)
        endpoint = webhooks.create_endpoint(
            db(), merchant, body["url"], body["events"], user, utcnow(),
            allow_local=webhooks.allows_local(current_app.config),
        )
        _audit_if_admin(user, "webhook.create", merchant, webhook_id=endpoint.id)
        return {"id": endpoint.id, "secret": endpoint.secret}


@blp.route("/merchants/<int:merchant_id>/webhooks/<int:webhook_id>")
class WebhookOne(MethodView):
    @blp.response(204)
    @blp.doc(security=AUTH)
    def delete(self, merchant_id: int, webhook_id: int) -> None:
        """Deactivate a webhook: no new events, and what is still pending is not sent."""
        merchant, user = _shop_and_manager(merchant_id)
        webhooks.deactivate(db(), merchant.id, webhook_id, utcnow())
        _audit_if_admin(user, "webhook.deactivate", merchant, webhook_id=webhook_id)


@blp.route("/merchants/<int:merchant_id>/webhooks/<int:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.response(200, WebhookDeliveryView(many=True))
    @blp.doc(security=AUTH)
    def get(self, merchant_id: int, webhook_id: int) -> list[dict[str, Any]]:
        """The webhook's latest 100 deliveries, newest first (owner or municipality admin)."""
        merchant, _user = _shop_and_manager(merchant_id)
        endpoint = webhooks.endpoint_of(db(), merchant.id, webhook_id)
        return [_delivery(d) for d in webhooks.deliveries(db(), endpoint)]
