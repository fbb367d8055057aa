"""Recovery through the API: a code opens the wallet it was given for and every wallet
linked to it (one per town the phone collected in), each with a new token; the old
tokens stop working."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.shoppers import wallets
from tests.factories import make_scheme, make_shop


def _balance(client: FlaskClient, token: str) -> int:
    answer = client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    return int(answer.json["balance"])  # type: ignore[index]


def test_a_recovery_code_opens_the_wallets_of_every_town(client: FlaskClient,
                                                         session: Session) -> None:
    home, away = make_shop(session, make_scheme(session)), make_shop(session, make_scheme(session))
    first = wallets.create_wallet(session, home.scheme)
    second = wallets.create_wallet(session, away.scheme)
    wallets.link_wallets(session, second.wallet, first.wallet)
    session.commit()
    for shop, token, cents in ((home, first.token, 1_000), (away, second.token, 3_000)):
        claim = client.post("/api/v1/claims", json={"amount_cents": cents},
                            headers=shop.headers).json["token"]  # type: ignore[index]
        assert client.post(f"/api/v1/claims/{claim}/claim",
                           headers={"Authorization": f"Bearer {token}"}).status_code == 200

    answer = client.post("/api/v1/wallets/recover", json={"recovery_code": first.recovery_code})
    assert answer.status_code == 200
    body = answer.json
    assert body is not None
    opened = {row["scheme"]: row["wallet_token"] for row in body["wallets"]}
    assert list(opened)[0] == home.scheme.slug and set(opened) == {home.scheme.slug,
                                                                     away.scheme.slug}
    assert body["wallet_token"] == opened[home.scheme.slug]
    assert _balance(client, opened[home.scheme.slug]) == 10
    assert _balance(client, opened[away.scheme.slug]) == 30
    # The lost phone's tokens open nothing any more.
    for old in (first.token, second.token):
        assert client.get("/api/v1/wallet",
                          headers={"Authorization": f"Bearer {old}"}).status_code == 401


def test_a_wallet_of_one_town_recovers_alone(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    only = wallets.create_wallet(session, scheme)
    session.commit()
    body = client.post("/api/v1/wallets/recover",
                       json={"recovery_code": only.recovery_code}).json
    assert body is not None
    assert body["wallets"] == [{"scheme": scheme.slug, "wallet_token": body["wallet_token"]}]
    assert client.post("/api/v1/wallets/recover",
                       json={"recovery_code": "ABCD-EFGH-JKLM-NPQR"}).status_code == 401
