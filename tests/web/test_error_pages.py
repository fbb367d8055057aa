"""Error pages are the site's own: in the visitor's language, in the look of the
area they were in, with a way back; the API keeps its JSON errors."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.factories import make_scheme, make_user
from tests.merchant_portal.helpers import html_of, new_client, sign_in_as

WERKZEUG_WORDS = ("The requested URL was not found", "Internal Server Error", "Bad Request")


def _get(client: FlaskClient, path: str, lang: str) -> tuple[int, str]:
    answer = client.get(path, headers={"Accept-Language": lang})
    assert answer.mimetype == "text/html"
    return answer.status_code, html_of(answer)


@pytest.mark.parametrize(
    ("lang", "title", "back"),
    [("nl", "Pagina niet gevonden", "Naar de startpagina"),
     ("fr", "Page introuvable", "Vers la page d'accueil"),
     ("en", "Page not found", "To the home page")],
)
def test_a_missing_page_is_the_sites_own_in_the_visitors_language(
    client: FlaskClient, lang: str, title: str, back: str
) -> None:
    status, html = _get(client, "/no-such-page", lang)
    assert status == 404
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{title}</h1>" in html and back in html
    assert 'href="/"' in html and "consumer/app.css" in html  # the shopper's look
    assert not any(words in html for words in WERKZEUG_WORDS)


def test_a_missing_staff_page_leads_back_to_its_area(client: FlaskClient) -> None:
    status, html = _get(client, "/dashboard/no-such-report", "nl")
    assert status == 404 and "staff.css" in html
    assert 'href="/dashboard/"' in html and "Pagina niet gevonden" in html
    status, html = _get(client, "/portal/no-such-page", "fr")
    assert status == 404 and 'href="/portal/"' in html and "Page introuvable" in html


def test_no_access_bad_requests_and_wrong_methods_get_pages(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session)
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    client = new_client(app)
    sign_in_as(client, analyst.email)
    # ?lang= wins over the language cookie the sign-in left.
    status, html = _get(client, "/dashboard/settlements?lang=nl", "nl")  # admins only
    assert status == 403 and "<h1>Geen toegang tot deze pagina</h1>" in html
    assert analyst.email in html  # the staff layout, still signed in

    refused = client.post("/logout?lang=fr", data={})  # no CSRF token
    assert refused.status_code == 400
    assert "<h1>Cette demande n'était pas correcte</h1>" in html_of(refused)

    wrong = client.get("/logout?lang=en")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert "<h1>This page cannot be used this way</h1>" in html_of(wrong)


def test_an_unexpected_error_gets_a_page_and_the_api_keeps_json(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production

    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", "broken", broken)
    client = app.test_client()
    status, html = _get(client, "/broken", "fr")
    assert status == 500
    assert "<h1>Un problème est survenu de notre côté</h1>" in html
    assert "a bug" not in html and "Traceback" not in html
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"
