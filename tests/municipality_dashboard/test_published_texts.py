"""The published texts in the dashboard: an admin writes each text in each
language and readers see it at once; an analyst reads only; bad input gets a
form error, never a server error; nothing a municipality types reaches a
browser as markup; every change is in the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.models import Scheme
from loyalty.town import published_texts
from tests.municipality_dashboard.conftest import (
    Municipality,
    audit_rows,
    html,
    make_municipality,
    post,
)

BASED_ON = re.compile(r'name="based_on" value="(\d+)"')
TEXTAREA = re.compile(r"<textarea[^>]*>\r?\n?(.*?)</textarea>", re.DOTALL)


def editor(client: FlaskClient, text: str, lang: str, **query: str) -> str:
    page = client.get(f"/dashboard/texts/{text}/{lang}", query_string=query)
    assert page.status_code == 200, page.status_code
    return html(page)


def based_on(page: str) -> str:
    match = BASED_ON.search(page)
    assert match, page
    return match.group(1)


def publish(client: FlaskClient, text: str, lang: str, body: str, **form: str) -> TestResponse:
    """Type ``body`` into the editor as it is now and press Publish."""
    data = {"based_on": based_on(editor(client, text, lang)), "body": body,
            "action": "publish", **form}
    return post(client, f"/dashboard/texts/{text}/{lang}", **data)


def public(app: Flask, path: str, lang: str) -> str:
    """The public page as an anonymous reader in ``lang`` sees it."""
    reader = app.test_client()
    reader.set_cookie("lang", lang)
    page = reader.get(path)
    assert page.status_code == 200, (path, page.status_code)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    return html(page)


def article(page: str) -> str:
    return page[page.index("<article"):page.index("</article>")]


def test_an_admin_writes_each_language_and_readers_see_it_at_once(
    app: Flask, session: Session, town: Municipality
) -> None:
    slug, client = town.scheme.slug, town.admin_client
    words = {"nl": "Onze eigen spelregels.", "fr": "Nos propres règles.",
             "en": "Our own rules."}
    for lang, body in words.items():
        # Before: the default text, in the reader's language.
        assert "# " not in article(public(app, f"/rules/{slug}", lang))
        done = publish(client, "rules", lang, f"# {body}\n\n{body} Tweede regel.")
        assert done.status_code == 303, html(done)
        assert done.headers["Location"].endswith(f"/dashboard/texts/rules/{lang}?done=published")
    for lang, body in words.items():
        page = article(public(app, f"/rules/{slug}", lang))
        assert f"<h2>{body}</h2>" in page
        assert f"<p>{body} Tweede regel.</p>" in page
        assert all(other not in page for other in words.values() if other != body)
    # The other two texts still show their defaults; so does the same text elsewhere.
    assert "Onze eigen spelregels." not in public(app, f"/privacy/{slug}", "nl")
    other = make_municipality(app, session)
    assert "Onze eigen spelregels." not in public(app, f"/rules/{other.scheme.slug}", "nl")

    page = editor(client, "rules", "fr")
    assert "Your own text, version 1, published by" in page and town.admin.email in page
    assert based_on(page) == "1"
    overview = html(client.get("/dashboard/texts"))
    assert overview.count("your own text, version 1 of") == 3
    entries = audit_rows(session, town.scheme.id, "published_text.change")
    assert [(e.actor_id, e.details["language"], e.details["version"]) for e in entries] == [
        (town.admin.id, "nl", 1), (town.admin.id, "fr", 1), (town.admin.id, "en", 1)
    ]
    log = html(client.get("/dashboard/audit"))
    assert "Published text changed" in log
    assert "text: Rules of the savings scheme; language: French; version: 1" in log


def test_a_language_without_its_own_text_shows_the_dutch_one(
    app: Flask, town: Municipality
) -> None:
    slug = town.scheme.slug
    publish(town.admin_client, "privacy", "nl", "Alleen in het Nederlands geschreven.")
    page = public(app, f"/privacy/{slug}", "fr")
    assert 'lang="nl"' in article(page) and "Alleen in het Nederlands geschreven." in page
    assert "The municipality publishes this text in Dutch only." not in page  # French page
    english = public(app, f"/privacy/{slug}", "en")
    assert "The municipality publishes this text in Dutch only." in english
    assert "Readers in French see your Dutch text until you publish one in French." in (
        editor(town.admin_client, "privacy", "fr"))


def test_an_analyst_reads_the_texts_but_cannot_change_them(
    app: Flask, session: Session, town: Municipality
) -> None:
    client = town.analyst_client
    assert "Published texts" in html(client.get("/dashboard/texts"))
    page = editor(client, "shop-terms", "nl")
    assert "<textarea" not in page and "Back to the default text" not in page
    assert "<h2>" in page  # the text as readers see it
    assert 'href="/dashboard/texts"' in html(client.get("/dashboard/"))
    assert 'href="/dashboard/settings"' not in html(client.get("/dashboard/"))
    for url, data in [
        ("/dashboard/texts/shop-terms/nl", {"based_on": "0", "body": "Nee.",
                                            "action": "publish"}),
        ("/dashboard/texts/shop-terms/nl", {"based_on": "0", "body": "Nee.",
                                            "action": "preview"}),
        ("/dashboard/texts/shop-terms/nl/default", {"based_on": "0", "confirmed": "1"}),
    ]:
        assert post(client, url, **data).status_code == 403, url
    # An analyst cannot load an earlier version into an editor they do not have.
    assert "<textarea" not in editor(client, "shop-terms", "nl", version="1")
    assert audit_rows(session, town.scheme.id) == []


def test_forms_without_the_csrf_token_are_refused(town: Municipality) -> None:
    answer = town.admin_client.post(
        "/dashboard/texts/rules/nl", data={"based_on": "0", "body": "x", "action": "publish"}
    )
    assert answer.status_code == 400


LONG = published_texts.MAX_LENGTH + 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write the text, or go back to the default text."),
        ("   \n \r\n ", "Write the text, or go back to the default text."),
        ("\x00\x01 \x7f", "Write the text, or go back to the default text."),
        ("x" * LONG, f"At most 30,000 characters; this text has {LONG:,}. Shorten it."),
    ],
)
def test_an_empty_or_too_long_text_gets_a_form_error_and_nothing_is_published(
    session: Session, town: Municipality, body: str, message: str
) -> None:
    for action in ("publish", "preview"):
        answer = post(town.admin_client, "/dashboard/texts/privacy/fr",
                      based_on="0", body=body, action=action)
        assert answer.status_code == 422
        page = html(answer)
        assert message in page, page[-3000:]
        assert 'aria-invalid="true"' in page and "Nothing was published" in page
    assert published_texts.current(session, town.scheme.id, "privacy", "fr") is None
    session.commit()
    assert audit_rows(session, town.scheme.id) == []


@pytest.mark.parametrize(
    ("url", "data", "status"),
    [
        ("/dashboard/texts/privacy/fr", {"based_on": "", "body": "x"}, 400),
        ("/dashboard/texts/privacy/fr", {"based_on": "-1", "body": "x"}, 400),
        ("/dashboard/texts/privacy/fr", {"based_on": "١", "body": "x"}, 400),
        ("/dashboard/texts/privacy/fr", {"based_on": "9" * 30, "body": "x"}, 400),
        ("/dashboard/texts/cookies/fr", {"based_on": "0", "body": "x"}, 404),
        ("/dashboard/texts/privacy/de", {"based_on": "0", "body": "x"}, 404),
        ("/dashboard/texts/privacy/de/default", {"based_on": "0"}, 404),
    ],
)
def test_a_tampered_form_is_a_client_error(
    town: Municipality, url: str, data: dict[str, str], status: int
) -> None:
    assert post(town.admin_client, url, **data).status_code == status


def test_pages_that_do_not_exist(town: Municipality) -> None:
    client = town.admin_client
    for path in ["/dashboard/texts/cookies/nl", "/dashboard/texts/rules/de",
                 "/dashboard/texts/rules/nl?version=7", "/dashboard/texts/rules/nl?version=x"]:
        assert client.get(path).status_code == 404, path


def test_markup_in_a_text_is_shown_as_text(app: Flask, town: Municipality) -> None:
    body = (
        "# <script>alert('title')</script>\n\n"
        + ("Een lange alinea met <b>vet</b> & <img src=x onerror=alert(1)>. " * 400)
        + "\n\n- <script>alert('item')</script>\n- javascript:alert(1)\n\n"
        + "<a href=\"https://evil.example\">klik</a> {{ 7*7 }} {% raw %}"
    )
    preview = post(town.admin_client, "/dashboard/texts/rules/nl", based_on="0", body=body,
                   action="preview")
    assert preview.status_code == 200
    assert publish(town.admin_client, "rules", "nl", body).status_code == 303
    for page in (html(preview), public(app, f"/rules/{town.scheme.slug}", "nl")):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "<b>vet</b>" not in page and '<a href="https://evil.example"' not in page
        assert "<h2>&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;</h2>" in page
        assert "<li>&lt;script&gt;alert(&#39;item&#39;)&lt;/script&gt;</li>" in page
        assert "&lt;b&gt;vet&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;." in page
        assert "{{ 7*7 }} {% raw %}" in page  # not a template either
    # The editor gives the text back as it was typed (escaped inside the textarea).
    typed = TEXTAREA.search(editor(town.admin_client, "rules", "nl"))
    assert typed is not None and "&lt;script&gt;alert(&#39;title&#39;)" in typed.group(1)


def test_preview_shows_the_text_and_publishes_nothing(
    app: Flask, session: Session, town: Municipality
) -> None:
    answer = post(town.admin_client, "/dashboard/texts/shop-terms/en", based_on="0",
                  body="# Draft\n\nNot yet.", action="preview")
    assert answer.status_code == 200
    page = html(answer)
    assert "Preview: not published yet" in page and "<h2>Draft</h2>" in page
    typed = TEXTAREA.search(page)  # still in the editor
    assert typed is not None and typed.group(1) == "# Draft\n\nNot yet."
    assert "Not yet." not in public(app, f"/shop-terms/{town.scheme.slug}", "en")
    assert published_texts.current(session, town.scheme.id, "shop_terms", "en") is None
    session.commit()


def test_back_to_the_default_asks_first_and_is_audited(
    app: Flask, session: Session, town: Municipality
) -> None:
    client, slug = town.admin_client, town.scheme.slug
    publish(client, "privacy", "en", "Our own notice.")
    page = editor(client, "privacy", "en")
    assert "Back to the default text" in page
    asked = post(client, "/dashboard/texts/privacy/en/default", based_on=based_on(page))
    assert asked.status_code == 200
    assert "Privacy notice in English: back to the default text?" in html(asked)
    assert "Our own notice." in public(app, f"/privacy/{slug}", "en")  # nothing yet
    done = post(client, "/dashboard/texts/privacy/en/default", based_on="1", confirmed="1")
    assert done.status_code == 303
    assert done.headers["Location"].endswith("?done=default")
    assert "Readers see the default text again." in html(client.get(done.headers["Location"]))
    text = public(app, f"/privacy/{slug}", "en")
    assert "Our own notice." not in text and "Who is responsible for your data?" in text
    [entry] = audit_rows(session, town.scheme.id, "published_text.default")
    assert entry.details == {"text": "privacy", "language": "en", "version": 2}
    # The earlier version is kept and loads into the editor again.
    again = editor(client, "privacy", "en", version="1")
    assert "Version 1 is in the editor." in again
    typed = TEXTAREA.search(again)
    assert typed is not None and typed.group(1) == "Our own notice."
    assert "own text, 15 characters" in again and "back to the default text" in again


def test_an_editor_opened_before_someone_elses_change_keeps_its_text(
    app: Flask, session: Session, town: Municipality
) -> None:
    client = town.admin_client
    opened = based_on(editor(client, "rules", "fr"))
    # Meanwhile a colleague publishes (here: another tab of the same admin).
    publish(client, "rules", "fr", "Version du collègue.")
    late = post(client, "/dashboard/texts/rules/fr", based_on=opened, body="Ma version.",
                action="publish")
    assert late.status_code == 409
    page = html(late)
    assert "Someone published a version of this text after you opened the editor." in page
    typed = TEXTAREA.search(page)
    assert typed is not None and typed.group(1) == "Ma version."
    # Publishing from that page, knowing the colleague's version, replaces it.
    assert based_on(page) == "1"
    done = post(client, "/dashboard/texts/rules/fr", based_on="1", body="Ma version.",
                action="publish")
    assert done.status_code == 303
    assert "Ma version." in public(app, f"/rules/{town.scheme.slug}", "fr")


def test_publishing_the_default_unchanged_keeps_it_following_the_settings(
    session: Session, town: Municipality
) -> None:
    client = town.admin_client
    page = editor(client, "rules", "nl")
    typed = TEXTAREA.search(page)
    assert typed is not None and "€ 0,05" in typed.group(1).replace("\u00a0", " ")
    body = typed.group(1).replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')
    done = post(client, "/dashboard/texts/rules/nl", based_on="0", body=body + "\n",
                action="publish")
    assert done.headers["Location"].endswith("?done=unchanged")
    assert published_texts.current(session, town.scheme.id, "rules", "nl") is None
    session.commit()


def _settings(**changes: str) -> dict[str, Any]:
    return {
        "point_value_cents": "5", "earn_rate": "1", "earn_rate_max": "10", "validity_months": "24",
        "k_anonymity": "10", "claim_ttl_minutes": "10", "hold_ttl_minutes": "5",
        "correction_days": "14", "confirm_above_euros": "500", "villages": "Meerdonk",
        "release_epsilon_per_day": "1.0", "release_max_purchases": "3",
        "release_max_euros": "100",
        **changes,
    }


def test_the_contact_address_and_the_settings_reach_the_default_texts(
    app: Flask, session: Session, town: Municipality
) -> None:
    client, slug = town.admin_client, town.scheme.slug
    bad = post(client, "/dashboard/settings", **_settings(contact_email="privacy at town"))
    assert bad.status_code == 422 and "This is not a valid e-mail address." in html(bad)
    done = post(client, "/dashboard/settings",
                **_settings(contact_email=" privacy@gemeente.example ", validity_months="36",
                            point_value_cents="2"))
    assert done.status_code == 303
    session.expire_all()
    assert session.get_one(Scheme, town.scheme.id).contact_email == "privacy@gemeente.example"
    session.commit()
    rules = public(app, f"/rules/{slug}", "nl").replace("\u00a0", " ")
    assert "36 maanden geldig" in rules and "€ 0,02 korting" in rules
    assert "privacy@gemeente.example" in public(app, f"/privacy/{slug}", "fr")
    [entry] = audit_rows(session, town.scheme.id, "scheme.settings")
    assert entry.details["changes"]["contact_email"] == [None, "privacy@gemeente.example"]
