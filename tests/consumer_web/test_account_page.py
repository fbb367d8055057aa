"""The shopper's account page renders in the test process too (warnings are errors
here: a deprecated form declaration would be a 500)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import make_scheme, make_shop
from tests.forms import csrf


def test_the_account_page_offers_the_age_bands(client: FlaskClient, session: Session) -> None:
    shop = make_shop(session, make_scheme(session))
    token = client.post("/api/v1/claims", json={"amount_cents": 1000},
                        headers=shop.headers).json["token"]  # type: ignore[index]
    page = client.get(f"/c/{token}").get_data(as_text=True)
    client.post(f"/c/{token}", data={"csrf_token": csrf(page)})
    client.set_cookie("lang", "en")
    answer = client.get("/account")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert '<option value="25-34">25-34</option>' in text
