"""What the dashboard's pages share: the blueprint, the roles, page rendering, the scheme."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from loyalty.models import Role, Scheme
from loyalty.web import confirm, db, personal_page
from loyalty.web.navigation import NavGroup, NavItem, visible
from loyalty.web.signin import current_staff

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
STAFF = (Role.MUNICIPALITY_ADMIN, Role.MUNICIPALITY_ANALYST)
ADMIN = (Role.MUNICIPALITY_ADMIN,)


def render(template: str, status: int = 200, **context: Any) -> Any:
    return personal_page(f"municipality_dashboard/{template}", status, **context)


def current_scheme() -> Scheme:
    """The scheme of the signed-in municipality staff member."""
    return db().get_one(Scheme, current_staff().user.scheme_id)


# Five top-level items (three for an analyst), the pages of the current one as tabs.
NAV = (
    NavGroup(_l("Overview"), (NavItem("dashboard.home", _l("Overview"), ("dashboard.home",)),)),
    NavGroup(_l("Reports"), (
        NavItem("dashboard.reports_index", _l("Reports"), ("dashboard.report",)),
        NavItem("dashboard.campaigns_page", _l("Campaigns"),
                ("dashboard.campaign", "dashboard.new_campaign")),
        NavItem("dashboard.events_page", _l("Events"), ("dashboard.event",)),
        NavItem("dashboard.grants_page", _l("Grants"), ("dashboard.grant", "dashboard.new_grant")),
        NavItem("dashboard.messages_page", _l("Messages"), ("dashboard.messages_page",)),
        NavItem("dashboard.cluster_report", _l("Shopping clusters"),
                ("dashboard.cluster_report",)),
        NavItem("dashboard.compare", _l("Comparison"), ("dashboard.compare",)),
        NavItem("dashboard.privacy_page", _l("Privacy"), ("dashboard.privacy_page",)),
    )),
    NavGroup(_l("Shops"), (
        NavItem("dashboard.shops", _l("Shops"), ("dashboard.shops", "dashboard.decide")),
        NavItem("dashboard.clusters_page", _l("Clusters and footfall"),
                ("dashboard.clusters_page", "dashboard.cluster_create", "dashboard.cluster_delete",
                 "dashboard.cluster_shops", "dashboard.cluster_counters",
                 "dashboard.footfall_upload")),
        NavItem("dashboard.fraud_flags", _l("Fraud flags"), ("dashboard.fraud",)),
    ), restricted=True),
    NavGroup(_l("Money"), (
        NavItem("dashboard.settlements", _l("Settlement"), ("dashboard.settle",)),
        NavItem("dashboard.funding", _l("Prepayments"),
                ("dashboard.funding", "dashboard.record_transfer")),
        NavItem("dashboard.social_page", _l("Social tariff"), ("dashboard.social",)),
        NavItem("dashboard.vouchers_page", _l("Gift vouchers"),
                ("dashboard.vouchers_page", "dashboard.voucher_order_paid")),
    ), restricted=True),
    # An analyst reads the published texts; the rest of it is for admins (owner_only:
    # the area's managers).
    NavGroup(_l("Administration"), (
        NavItem("dashboard.staff", _l("Staff"), ("dashboard.staff",), owner_only=True),
        NavItem("dashboard.audit_log", _l("Audit log"), ("dashboard.audit_log",),
                owner_only=True),
        NavItem("dashboard.operations", _l("Operations"), ("dashboard.operations",),
                owner_only=True),
        NavItem("dashboard.settings", _l("Settings"), ("dashboard.settings",), owner_only=True),
        NavItem("dashboard.published_texts_page", _l("Published texts"),
                ("dashboard.published_text",)),
    )),
)


@bp.context_processor
def _navigation() -> dict[str, Any]:
    admin = getattr(current_user, "role", None) == Role.MUNICIPALITY_ADMIN
    groups = visible(NAV, admin, current_app.view_functions.__contains__)
    return {"nav_groups": groups, "nav_endpoint": request.endpoint or ""}


def suspension_question(shop: str, back: str) -> confirm.Question:
    """What suspending a shop does, asked before it is done (shops page and fraud flags)."""
    return confirm.Question(
        _("Suspend %(shop)s?", shop=shop),
        _("The shop can no longer give points or take spend codes: its open sales are "
          "cancelled and its till keys stop working at once. Points already given stay "
          "in the shoppers' wallets. You can approve the shop again later."),
        _("Yes, suspend"), back)
