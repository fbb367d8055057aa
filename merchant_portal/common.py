"""What every page of the shop's portal shares: the blueprint, the roles, the
owner's menu, the shop of the signed-in staff member and the page renderer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask_babel import lazy_gettext as _l

from loyalty.models import Merchant, Role
from loyalty.web import db, personal_page
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
# The owner's pages, in menu order; each appears once its view exists.
OWNER_PAGES = [
    ("portal.figures", _l("Figures")),
    ("portal.stamp_cards", _l("Stamp cards")),
    ("portal.printed_cards", _l("Printed cards")),
    ("portal.team", _l("Team and tills")),
    ("portal.funding", _l("Prepaid balance")),
    ("portal.statements", _l("Statements")),
    ("portal.profile", _l("Shop profile")),
]


@bp.app_context_processor
def _owner_nav() -> dict[str, Any]:
    def owner_nav() -> list[tuple[str, str]]:
        return [(ep, str(label)) for ep, label in OWNER_PAGES if ep in current_app.view_functions]

    return {"owner_nav": owner_nav}


def render(template: str, http_status: int = 200, **context: Any) -> Any:
    return personal_page(f"merchant_portal/{template}", http_status, **context)


def current_merchant() -> Merchant:
    merchant_id = current_staff().user.merchant_id
    return db().get_one(Merchant, merchant_id)
