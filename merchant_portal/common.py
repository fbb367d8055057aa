"""What every page of the shop's portal shares: the blueprint, the roles, the
owner's menu, the shop of the signed-in staff member and the page renderer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from loyalty.models import Merchant, Role
from loyalty.web import db, personal_page
from loyalty.web.navigation import NavGroup, NavItem, visible
from loyalty.web.signin import current_staff

bp = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
SHOP_STAFF = (Role.MERCHANT_OWNER, Role.CASHIER)
OWNER = (Role.MERCHANT_OWNER,)
# Till keys, invitations, printed cards and spend codes: for approved shops only.
NOT_APPROVED = _l("Only a shop approved by the municipality can do this.")
# Three top-level items for an owner (the till, the figures and money, the shop),
# the pages of the current one as tabs; a cashier sees the till and redeeming.
NAV = (
    NavGroup(_l("Till"), (
        NavItem("portal.till", _l("Till"), ("portal.till", "portal.sale", "portal.index")),
        NavItem("portal.redeem", _l("Redeem"), ("portal.redeem",)),
        NavItem("portal.printed_cards", _l("Printed cards"), ("portal.printed_card",),
                owner_only=True),
        NavItem("portal.corrections", _l("Corrections"), ("portal.correct",),
                owner_only=True),
    )),
    NavGroup(_l("Figures"), (
        NavItem("portal.figures", _l("Figures"), ("portal.figures",)),
        NavItem("portal.statements", _l("Statements"), ("portal.statement",)),
        NavItem("portal.funding", _l("Prepaid balance"), ("portal.funding",)),
    ), restricted=True),
    NavGroup(_l("Shop"), (
        NavItem("portal.profile", _l("Shop profile"), ("portal.profile",)),
        NavItem("portal.team", _l("Team and tills"), ("portal.team",)),
        NavItem("portal.stamp_cards", _l("Stamp cards"), ("portal.stamp_card",)),
        NavItem("portal.earn_rate_page", _l("Points per euro"), ("portal.earn_rate",)),
        NavItem("portal.webhooks_page", _l("Webhooks"), ("portal.webhook",)),
    ), restricted=True),
)


@bp.context_processor
def _navigation() -> dict[str, Any]:
    owner = getattr(current_user, "role", None) == Role.MERCHANT_OWNER
    groups = visible(NAV, owner, current_app.view_functions.__contains__)
    return {"nav_groups": groups, "nav_endpoint": request.endpoint or ""}


def render(template: str, http_status: int = 200, **context: Any) -> Any:
    return personal_page(f"merchant_portal/{template}", http_status, **context)


def current_merchant() -> Merchant:
    merchant_id = current_staff().user.merchant_id
    return db().get_one(Merchant, merchant_id)
