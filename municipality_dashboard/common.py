"""What the dashboard's pages share: the blueprint, the roles, page rendering, the scheme."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

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
