"""What the dashboard's pages share: the blueprint, the roles, page rendering, the scheme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from loyalty.models import Role, Scheme
from loyalty.web import db, personal_page
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


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy translation
    matches: tuple[str, ...]  # endpoint prefixes of the pages it stands for

    def current(self, endpoint: str) -> bool:
        return endpoint.startswith(self.matches)


@dataclass(frozen=True)
class NavGroup:
    label: Any
    items: tuple[NavItem, ...]
    admin_only: bool = False

    def current(self, endpoint: str) -> bool:
        return any(item.current(endpoint) for item in self.items)


# Five top-level items, the pages of the current one under them: the twelve
# pages in one row took four or five rows at 1280 px.
NAV = (
    NavGroup(_l("Overview"), (NavItem("dashboard.home", _l("Overview"), ("dashboard.home",)),)),
    NavGroup(_l("Reports"), (
        NavItem("dashboard.reports_index", _l("Reports"), ("dashboard.report",)),
        NavItem("dashboard.campaigns_page", _l("Campaigns"),
                ("dashboard.campaign", "dashboard.new_campaign")),
        NavItem("dashboard.events_page", _l("Events"), ("dashboard.event",)),
        NavItem("dashboard.compare", _l("Comparison"), ("dashboard.compare",)),
    )),
    NavGroup(_l("Shops"), (
        NavItem("dashboard.shops", _l("Shops"), ("dashboard.shops", "dashboard.decide")),
        NavItem("dashboard.fraud_flags", _l("Fraud flags"), ("dashboard.fraud",)),
    ), admin_only=True),
    NavGroup(_l("Money"), (
        NavItem("dashboard.settlements", _l("Settlement"), ("dashboard.settle",)),
        NavItem("dashboard.funding", _l("Prepayments"),
                ("dashboard.funding", "dashboard.record_transfer")),
    ), admin_only=True),
    NavGroup(_l("Administration"), (
        NavItem("dashboard.staff", _l("Staff"), ("dashboard.staff",)),
        NavItem("dashboard.audit_log", _l("Audit log"), ("dashboard.audit_log",)),
        NavItem("dashboard.settings", _l("Settings"), ("dashboard.settings",)),
    ), admin_only=True),
)


@bp.context_processor
def _navigation() -> dict[str, Any]:
    admin = getattr(current_user, "role", None) == Role.MUNICIPALITY_ADMIN
    groups = [group for group in NAV if admin or not group.admin_only]
    return {"nav_groups": groups, "nav_endpoint": request.endpoint or ""}
