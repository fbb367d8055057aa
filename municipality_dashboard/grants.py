"""Dashboard page of the grant programmes: take-up and remaining budget."""

from __future__ import annotations

from typing import Any

from loyalty.money import grants
from loyalty.web import db, i18n, public_url
from loyalty.web.signin import staff_required
from municipality_dashboard.common import STAFF, bp, current_scheme, render


@bp.get("/grants")
@staff_required(*STAFF)
def grants_page() -> Any:
    """Every grant programme with its claims, what it granted and what is left."""
    found = grants.list_grants(db(), current_scheme().id)
    return render(
        "grants.html",
        found=found,
        day=i18n.long_date,
        claim_url=lambda grant_id: public_url(f"/g/{grant_id}"),
    )
