"""A phone's wallets of several towns, in the test process: the cookie and the switch."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.infra.db import utcnow
from loyalty.models import Scheme
from loyalty.shoppers import erasure, wallets
from tests.factories import Shop, make_scheme, make_shop
from tests.forms import csrf


def _collect(client: FlaskClient, shop: Shop, cents: int = 1000) -> None:
    token = client.post("/api/v1/claims", json={"amount_cents": cents},
                        headers=shop.headers).json["token"]  # type: ignore[index]
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert client.post(f"/c/{token}", data={"csrf_token": csrf(page)}).status_code == 200


def _cookie(app: Flask, client: FlaskClient) -> object:
    jar = client.get_cookie("ls_wallet")
    assert jar is not None
    return URLSafeSerializer(app.config["SECRET_KEY"], salt="wallet-cookie").loads(jar.value)


def test_the_cookie_keeps_a_wallet_per_town(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    one, two = make_shop(session, make_scheme(session)), make_shop(session, make_scheme(session))
    _collect(client, one)
    _collect(client, two)
    _collect(client, one)
    data = _cookie(app, client)
    assert isinstance(data, dict)
    assert set(data["w"]) == {str(one.scheme.id), str(two.scheme.id)}
    assert data["c"] == str(one.scheme.id)  # the town collected in last is shown


def test_a_cookie_of_one_wallet_still_opens_it(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    scheme = make_scheme(session)
    new = wallets.create_wallet(session, scheme)
    session.commit()
    old = URLSafeSerializer(app.config["SECRET_KEY"], salt="wallet-cookie").dumps(new.token)
    client.set_cookie("ls_wallet", old)
    client.set_cookie("lang", "en")
    assert client.get("/wallet").status_code == 200
    # Collecting in a second town keeps the first wallet, in the new format.
    _collect(client, make_shop(session, make_scheme(session)))
    data = _cookie(app, client)
    assert isinstance(data, dict) and data["w"][str(scheme.id)] == new.token


def test_the_switch_refuses_bad_input_without_an_error_page(
    client: FlaskClient, session: Session
) -> None:
    _collect(client, make_shop(session, make_scheme(session)))
    _collect(client, make_shop(session, make_scheme(session)))
    page = client.get("/wallet").get_data(as_text=True)
    token = csrf(page)
    assert client.post("/wallet/town", data={"scheme": "1"}).status_code == 400  # no CSRF token
    for bad in ("", "abc", "999999", "-1"):
        answer = client.post("/wallet/town", data={"town-csrf_token": token, "scheme": bad})
        assert answer.status_code == 303
    assert client.get("/wallet").status_code == 200


def test_a_recovery_code_opens_every_wallet_of_the_group(session: Session) -> None:
    a, b, c = (make_scheme(session) for _ in range(3))
    first = wallets.create_wallet(session, a)
    second = wallets.create_wallet(session, b)
    third = wallets.create_wallet(session, c)
    wallets.link_wallets(session, second.wallet, first.wallet)
    wallets.link_wallets(session, third.wallet, second.wallet)
    opened = wallets.recover_wallets(session, second.recovery_code)
    assert [o.wallet.id for o in opened] == [second.wallet.id, first.wallet.id, third.wallet.id]
    for new in opened:  # the new tokens open them; the old ones no longer do
        assert wallets.wallet_by_token(session, new.token).id == new.wallet.id
    # An erased wallet leaves the group: the others no longer bring it back.
    erasure.delete_wallet(session, third.wallet, utcnow())
    assert len(wallets.recover_wallets(session, first.recovery_code)) == 2


def test_two_wallets_of_one_town_are_never_linked(session: Session) -> None:
    scheme: Scheme = make_scheme(session)
    one, two = wallets.create_wallet(session, scheme), wallets.create_wallet(session, scheme)
    try:
        wallets.link_wallets(session, one.wallet, two.wallet)
    except InvalidInput as error:
        assert error.code == "same_scheme"
    else:
        raise AssertionError("linked two wallets of one town")


def test_the_export_names_the_other_towns_and_the_card(
    client: FlaskClient, session: Session
) -> None:
    one = make_shop(session, make_scheme(session))
    two = make_shop(session, make_scheme(session))
    _collect(client, one)
    _collect(client, two)
    client.get("/wallet/card")  # the phone's card number is made
    data = client.get("/account/export").json
    assert data is not None
    assert data["wallet"]["linked_towns"] == [one.scheme.name]  # the export is of town two
    assert len(data["wallet"]["card_number"]) == 12
