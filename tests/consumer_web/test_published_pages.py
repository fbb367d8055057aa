"""The public pages of the published texts: no sign-in, the reader's language
(Dutch when the browser asks for another), the scheme of the address, of the
phone's wallet or the only one, else a choice of municipalities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lokaal_sparen.app import create_app
from loyalty.infra.migrate import upgrade
from loyalty.models import Scheme
from loyalty.town import schemes
from tests.conftest import PublicHostClient
from tests.factories import make_scheme, make_shop
from tests.forms import csrf


def _html(client: FlaskClient, path: str, status: int = 200, **headers: str) -> str:
    answer = client.get(path, headers=headers)
    assert answer.status_code == status, (path, answer.status_code)
    assert answer.headers["Cache-Control"] == "no-store" or status != 200
    return answer.get_data(as_text=True)


@pytest.fixture
def town(session: Session) -> Scheme:
    scheme = make_scheme(session, validity_months=30)
    scheme.name = "Sint-Gillis-Waas"
    session.commit()
    return scheme


@pytest.mark.parametrize(
    ("accept", "lang", "title", "says"),
    [
        ("nl-BE,nl;q=0.9", "nl", "Reglement van het spaarsysteem", "30 maanden geldig"),
        ("fr-BE,fr;q=0.9", "fr", "Règlement du système d’épargne", "valables 30 mois"),
        ("en-GB,en;q=0.9", "en", "Rules of the savings scheme", "valid for 30 months"),
        ("de-DE,de;q=0.9", "nl", "Reglement van het spaarsysteem", "30 maanden geldig"),
    ],
)
def test_anyone_reads_the_rules_in_their_language(
    client: FlaskClient, town: Scheme, accept: str, lang: str, title: str, says: str
) -> None:
    page = _html(client, f"/rules/{town.slug}", **{"Accept-Language": accept})
    assert f'<html lang="{lang}">' in page
    assert f'<h1 id="published-title">{title}</h1>' in page
    assert says in page and "Sint-Gillis-Waas" in page


def test_each_text_has_its_address(client: FlaskClient, town: Scheme) -> None:
    client.set_cookie("lang", "en")
    assert "Who is responsible for your data?" in _html(client, f"/privacy/{town.slug}")
    assert "Giving points" in _html(client, f"/shop-terms/{town.slug}")
    _html(client, "/rules/no-such-town", 404)
    _html(client, "/cookies", 404)


def test_the_phones_wallet_chooses_the_scheme(
    app: Flask, client: FlaskClient, session: Session, town: Scheme
) -> None:
    shop = make_shop(session, town)
    make_scheme(session)  # there are several schemes
    created = client.post("/api/v1/claims", json={"amount_cents": 1000}, headers=shop.headers)
    token = created.json["token"]  # type: ignore[index]
    collect_page = _html(client, f"/c/{token}")
    collected = client.post(f"/c/{token}", data={"csrf_token": csrf(collect_page)})
    assert collected.status_code in (200, 303)
    assert client.get_cookie("ls_wallet") is not None
    page = _html(client, "/privacy")
    assert "De gemeente Sint-Gillis-Waas" in page


@pytest.fixture
def own_database(new_empty_database: object, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own: the test decides how many schemes exist."""
    url = new_empty_database()  # type: ignore[operator]
    upgrade(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret-key",
                      "PUBLIC_URL": "https://sparen.example.be"})
    app.test_client_class = PublicHostClient
    yield app
    app.extensions["loyalty.engine"].dispose()


def test_without_a_wallet_the_only_scheme_or_a_choice(own_database: Flask) -> None:
    app = own_database
    client = app.test_client()
    client.set_cookie("lang", "en")
    _html(client, "/rules", 404)  # no scheme at all
    with app.extensions["loyalty.sessions"]() as session:
        schemes.create_scheme(session, "sint-gillis-waas", "Sint-Gillis-Waas")
        session.commit()
    assert "the savings scheme of Sint-Gillis-Waas" in _html(client, "/rules")
    with app.extensions["loyalty.sessions"]() as session:
        schemes.create_scheme(session, "beveren", "Beveren")
        session.commit()
    page = _html(client, "/shop-terms")
    assert "Choose yours:" in page
    assert page.index('href="/shop-terms/beveren"') < page.index(
        'href="/shop-terms/sint-gillis-waas"')
