"""An owner corrects a sale from the portal: the list, the confirmation, the result."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from loyalty.earning import claims, corrections
from loyalty.infra.db import utcnow
from loyalty.models import Role, SaleCorrection
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme, make_user
from tests.merchant_portal.helpers import (
    form_error,
    html_of,
    new_client,
    post_form,
    scalar,
    sign_in_as,
)


def test_an_owner_corrects_a_sale_after_confirming(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    cashier = make_user(session, scheme, Role.CASHIER, shop)
    wallet = wallets.create_wallet(session, scheme).wallet
    new = claims.create_claim(session, shop, 45_000, utcnow())
    claims.collect(session, new.claim, wallet, utcnow())
    session.commit()
    claim_id = new.claim.id

    staff = new_client(app)
    sign_in_as(staff, cashier.email)
    assert staff.get("/portal/sales").status_code == 403
    assert staff.get(f"/portal/sales/{claim_id}/correct").status_code == 403

    client = new_client(app)
    sign_in_as(client, owner.email)
    listing = html_of(client.get("/portal/sales"))
    assert f"/portal/sales/{claim_id}/correct" in listing
    sale_page = html_of(client.get(f"/portal/till/sales/{claim_id}"))
    assert "Correct this sale" in sale_page
    page = f"/portal/sales/{claim_id}/correct"
    confirm = html_of(client.get(page))
    assert "it cannot be undone" in confirm and "€450.00" in confirm
    # Without the CSRF token nothing happens; without a reason a friendly error.
    assert client.post(page, data={"reason": "typo"}).status_code == 400
    empty = post_form(client, page, page, reason=" ")
    assert empty.status_code == 422
    assert form_error(html_of(empty), "reason") == "Say why the sale is corrected."
    assert scalar(session, sa.select(sa.func.count()).select_from(SaleCorrection)
                  .where(SaleCorrection.claim_id == claim_id)) == 0

    done = post_form(client, page, page, reason="typed 450,00 for 45,00")
    assert done.status_code == 303
    result = html_of(client.get(done.headers["Location"]))
    assert "The sale is corrected. 450 points taken back from the shopper" in result
    assert "Correct this sale" not in result
    again = post_form(client, page, "/portal/sales", reason="again")
    assert again.status_code == 422
    assert "This sale is already corrected." in html_of(again)
    till = html_of(client.get("/portal/till"))
    assert "status-corrected" in till


def test_the_shopper_sees_the_correction_in_dutch(app: Flask, session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme, name="Bakkerij Pieters")
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop)
    created = wallets.create_wallet(session, scheme)
    new = claims.create_claim(session, shop, 10_000, utcnow())
    claims.collect(session, new.claim, created.wallet, utcnow())
    redemptions.create_redemption(session, created.wallet, 60, utcnow())
    corrections.correct_sale(session, new.claim, shop, owner, "fout bedrag",
                             datetime.now(UTC))
    session.commit()

    shopper = app.test_client()
    shopper.set_cookie("lang", "nl")
    signed = URLSafeSerializer(app.config["SECRET_KEY"], salt="wallet-cookie").dumps(
        created.token
    )
    shopper.set_cookie("ls_wallet", signed)
    text = html_of(shopper.get("/wallet"))
    assert "Verkoop gecorrigeerd door Bakkerij Pieters" in text
    assert "60 punten van deze aankoop waren al uitgegeven" in text
