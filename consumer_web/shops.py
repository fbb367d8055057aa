"""The participating shops: the list, searchable by name and sector, and their logos."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    request,
)

from consumer_web import cookie
from consumer_web.common import bp, current_language, page
from loyalty.earning import campaigns
from loyalty.infra.db import utcnow
from loyalty.models import Merchant
from loyalty.shops import opening_hours
from loyalty.town import schemes, sectors
from loyalty.web import campaign_words, db, i18n


@bp.get("/shops")
def shops_page() -> Response:
    session = db()
    wallet = cookie.current_wallet()
    scheme_id = wallet.scheme_id if wallet else None
    shops = schemes.approved_merchants(session, scheme_id)
    lang = str(current_language())
    query = (request.args.get("q") or "").strip()[:100]
    sector = request.args.get("sector") or ""
    sector_options = sorted(
        {(m.sector, sectors.short_label(m.sector, lang)) for m in shops}, key=lambda s: s[1]
    )
    if query:
        q = query.casefold()
        shops = [m for m in shops if q in m.name.casefold() or q in (m.address or "").casefold()]
    if sector:
        shops = [m for m in shops if m.sector == sector]
    # One rule for which shop a campaign covers: the one that pays the bonus at the till.
    now = utcnow()
    running = {sid: campaigns.running_in_scheme(session, sid, now)
               for sid in {m.scheme_id for m in shops}}
    badges = {m.id: [campaign_words.bonus(c) for c in running[m.scheme_id]
                     if campaigns.covers(c, m)] for m in shops}
    return page(
        "shops.html",
        badges=badges,
        shops=shops,
        query=query,
        sector=sector,
        sector_options=sector_options,
        sector_label=lambda code: sectors.short_label(code, lang),
        # The shop's own words on its door, in the reader's language when they
        # follow the door notation ("di-za 6:30-18:00" -> "mar.–sam. 6:30–18:00").
        hours=lambda text: opening_hours.localised(text, i18n.babel_locale()),
    )


@bp.get("/shops/<int:merchant_id>/logo")
def shop_logo(merchant_id: int) -> Response:
    """A shop's logo, from our own host (no third-party image hosting)."""
    merchant = db().get(Merchant, merchant_id)
    if merchant is None or merchant.logo is None or merchant.logo_type is None:
        abort(404)
    response = Response(merchant.logo, mimetype=merchant.logo_type)
    # The URL carries the upload time (?v=), so a new logo gets a new URL.
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
