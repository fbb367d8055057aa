"""What the town publishes, open to everyone: the privacy notice, the scheme rules
and the terms for shops (loyalty.town.published_texts), in the reader's language.

Every page's footer links here (the staff pages with their scheme in the
address). Without one, the text is the scheme of this phone's wallet, or the only
scheme there is; with several and no wallet, the reader chooses the municipality.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort

from consumer_web import cookie
from consumer_web.common import bp, current_language, page
from loyalty.models import Scheme
from loyalty.web import db, published

TEXT = 'any(privacy, rules, "shop-terms")'


def _scheme(slug: str | None) -> Scheme | None:
    session = db()
    if slug is not None:
        scheme = session.scalar(sa.select(Scheme).where(Scheme.slug == slug))
        if scheme is None:
            abort(404)
        return scheme
    wallet = cookie.current_wallet()
    if wallet is not None:
        return session.get_one(Scheme, wallet.scheme_id)
    found = session.scalars(sa.select(Scheme).limit(2)).all()
    return found[0] if len(found) == 1 else None


@bp.get(f"/<{TEXT}:text>")
@bp.get(f"/<{TEXT}:text>/<scheme>")
def published_text(text: str, scheme: str | None = None) -> Response:
    """One published text of a scheme, or the municipalities to choose from."""
    kind = published.PATHS[text]
    found = _scheme(scheme)
    title = published.title(kind)
    if found is None:
        schemes = db().scalars(sa.select(Scheme).order_by(Scheme.name)).all()
        if not schemes:
            abort(404)
        return page("published_choose.html", title=title, text=text, schemes=schemes)
    shown = published.page_text(db(), found, kind, current_language())
    return page(
        "published_text.html",
        title=title,
        scheme=found,
        shown=shown,
    )
