"""The published texts: defaults written from the scheme's settings in each
language, versions that are only added and audited, the Dutch text for a
language the municipality did not write, and the plain-text format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.support import Translations
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.models import AuditEntry, PublishedText, Role, Scheme
from loyalty.town import published_texts as texts
from loyalty.town.published_texts import Block
from tests.factories import make_scheme, make_user

TRANSLATIONS = Path(texts.__file__).resolve().parents[1] / "translations"
LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_IE"}
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def default(scheme: Scheme, kind: str, lang: str) -> str:
    return texts.default_text(scheme, kind, Translations.load(str(TRANSLATIONS), [lang]),
                              LOCALES[lang])


def flat(text: str) -> str:
    """No-break spaces as plain ones, as a reader sees them."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.fixture
def town(session: Session) -> Scheme:
    scheme = make_scheme(
        session, point_value_cents=4, earn_rate=2, validity_months=18, k_anonymity=12,
        hold_ttl_seconds=420, correction_days=7, monthly_fee_cents=1250,
    )
    scheme.name = "Sint-Gillis-Waas"
    scheme.contact_email = "privacy@sint-gillis-waas.example"
    session.commit()
    return scheme


# What each language must say, with the settings above, in Belgian formats.
SAYS = {
    ("rules", "nl"): ["2 punten per volle euro die je uitgeeft", "€ 0,04 korting",
                      "100 punten zijn € 4,00 waard", "18 maanden geldig", "7 minuten",
                      "binnen 7 dagen", "privacy@sint-gillis-waas.example"],
    ("rules", "fr"): ["2 points par euro entier dépensé", "0,04 € de réduction",
                      "100 points valent 4,00 €", "valables 18 mois", "7 minutes",
                      "dans les 7 jours", "privacy@sint-gillis-waas.example"],
    ("rules", "en"): ["2 points for every full euro you spend", "€0.04 of discount",
                      "100 points are worth €4.00", "valid for 18 months", "7 minutes",
                      "within 7 days", "privacy@sint-gillis-waas.example"],
    ("privacy", "nl"): ["De gemeente Sint-Gillis-Waas", "verwerkingsverantwoordelijke",
                        "minder dan 12 klanten", "punten vervallen 18 maanden",
                        "laten wissen", "privacy@sint-gillis-waas.example"],
    ("privacy", "fr"): ["La commune de Sint-Gillis-Waas", "responsable du traitement",
                        "moins de 12 clients", "expirent 18 mois", "effacer",
                        "privacy@sint-gillis-waas.example"],
    ("privacy", "en"): ["The municipality of Sint-Gillis-Waas", "controller",
                        "fewer than 12 shoppers", "expire 18 months", "erase your data",
                        "privacy@sint-gillis-waas.example"],
    ("shop_terms", "nl"): ["minstens 2 punten per volle euro van de verkoop",
                           "De maandelijkse bijdrage is € 12,50.", "binnen 7 dagen"],
    ("shop_terms", "fr"): ["au moins 2 points par euro entier de la vente",
                           "La contribution mensuelle est de 12,50 €.", "dans les 7 jours"],
    ("shop_terms", "en"): ["at least 2 points for every full euro of the sale",
                           "The monthly fee is €12.50.", "within 7 days"],
}


@pytest.mark.parametrize(("kind", "lang"), sorted(SAYS))
def test_the_defaults_state_the_schemes_settings_in_each_language(
    town: Scheme, kind: str, lang: str
) -> None:
    text = flat(default(town, kind, lang))
    for words in SAYS[(kind, lang)]:
        assert words in text, f"{words!r} not in the {kind} text in {lang}:\n{text}"
    # Headings the format turns into <h2>; Dutch and French are really translated.
    assert [b for b in texts.blocks(text) if b.kind == "heading"]
    if lang != "en":
        english = texts.blocks(default(town, kind, "en"))
        translated = texts.blocks(default(town, kind, lang))
        assert len(translated) == len(english)
        same = [a.lines for a, b in zip(translated, english, strict=True) if a == b]
        # "Cookies" and "Corrections" are also Dutch and French words.
        assert len(same) <= 1, same


def test_the_defaults_follow_a_change_of_the_settings(session: Session, town: Scheme) -> None:
    town.validity_months, town.earn_rate, town.point_value_cents = 1, 1, 10
    town.contact_email, town.monthly_fee_cents = None, 0
    session.commit()
    rules = flat(default(town, "rules", "nl"))
    assert "1 maand geldig" in rules and "1 punt per volle euro" in rules
    assert "€ 0,10 korting" in rules
    # Without a contact address the texts send the reader to the town hall.
    assert "gemeentehuis van Sint-Gillis-Waas" in rules
    assert "maison communale de Sint-Gillis-Waas" in flat(default(town, "privacy", "fr"))
    assert "There is no monthly fee." in default(town, "shop_terms", "en")


def test_publishing_adds_versions_with_who_and_when_and_an_audit_entry(
    session: Session, town: Scheme
) -> None:
    admin = make_user(session, town, Role.MUNICIPALITY_ADMIN)
    first = texts.publish(session, town, admin, "privacy", "fr", "Notre texte.\r\n",
                          based_on=0, now=NOW)
    assert first is not None and (first.version, first.body) == (1, "Notre texte.")
    assert (first.changed_by_id, first.changed_by_label) == (admin.id, admin.email)
    # The same text again is no new version.
    assert texts.publish(session, town, admin, "privacy", "fr", "Notre texte.",
                         based_on=1, now=NOW) is None
    back = texts.back_to_default(session, town, admin, "privacy", "fr", based_on=1, now=NOW)
    assert back is not None and (back.version, back.body) == (2, None)
    assert texts.back_to_default(session, town, admin, "privacy", "fr", based_on=2) is None
    session.commit()

    assert [v.version for v in texts.history(session, town.id, "privacy", "fr")] == [2, 1]
    assert texts.version(session, town.id, "privacy", "fr", 1).body == "Notre texte."
    entries = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.scheme_id == town.id).order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor_id, e.details) for e in entries] == [
        ("published_text.change", admin.id,
         {"text": "privacy", "language": "fr", "version": 1, "characters": 12}),
        ("published_text.default", admin.id, {"text": "privacy", "language": "fr", "version": 2}),
    ]
    # Other texts and languages are untouched.
    assert texts.current(session, town.id, "privacy", "nl") is None
    assert texts.current(session, town.id, "rules", "fr") is None


def test_an_editor_opened_on_an_older_version_cannot_save_over_a_newer_one(
    session: Session, town: Scheme
) -> None:
    texts.publish(session, town, None, "rules", "nl", "Eerste.", based_on=0)
    with pytest.raises(Conflict) as raised:
        texts.publish(session, town, None, "rules", "nl", "Tweede.", based_on=0)
    assert raised.value.code == "changed_meanwhile"
    with pytest.raises(Conflict):
        texts.back_to_default(session, town, None, "rules", "nl", based_on=0)
    session.commit()
    assert [v.body for v in texts.history(session, town.id, "rules", "nl")] == ["Eerste."]


def test_the_database_refuses_a_version_twice(session: Session, town: Scheme) -> None:
    """What lets one of two admins saving at once win (the other gets a Conflict)."""
    texts.publish(session, town, None, "rules", "nl", "Eerste.", based_on=0)
    session.commit()
    session.add(PublishedText(scheme_id=town.id, kind="rules", language="nl", version=1,
                              body="Ook eerste.", changed_by_label="x"))
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "text_empty"), ("  \n\n \x00 \r\n", "text_empty"),
     ("x" * (texts.MAX_LENGTH + 1), "text_too_long")],
)
def test_an_empty_or_too_long_text_is_refused(
    session: Session, town: Scheme, body: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        texts.publish(session, town, None, "privacy", "nl", body, based_on=0)
    assert raised.value.code == code
    session.rollback()
    assert texts.current(session, town.id, "privacy", "nl") is None


def test_unknown_texts_and_languages_are_not_found(session: Session, town: Scheme) -> None:
    with pytest.raises(NotFound):
        texts.current(session, town.id, "cookies", "nl")
    with pytest.raises(NotFound):
        texts.publish(session, town, None, "privacy", "de", "Text.", based_on=0)
    with pytest.raises(NotFound):
        texts.version(session, town.id, "privacy", "nl", 1)


def test_a_reader_sees_their_language_else_the_dutch_text_else_the_default(
    session: Session, town: Scheme
) -> None:
    assert texts.shown(session, town.id, "rules", "fr") == ("fr", None)
    texts.publish(session, town, None, "rules", "nl", "Ons reglement.", based_on=0)
    language, version = texts.shown(session, town.id, "rules", "fr")
    assert language == "nl" and version is not None and version.body == "Ons reglement."
    texts.publish(session, town, None, "rules", "fr", "Notre règlement.", based_on=0)
    assert texts.shown(session, town.id, "rules", "fr")[0] == "fr"
    texts.back_to_default(session, town, None, "rules", "nl", based_on=1)
    assert texts.shown(session, town.id, "rules", "nl") == ("nl", None)
    assert texts.shown(session, town.id, "rules", "en") == ("en", None)
    session.rollback()


def test_the_plain_text_format() -> None:
    body = (
        "# Title\r\n\r\nFirst line\nsecond line  \n\n\n- one\n- two\n\n"
        "- not a list\nbecause of this line\n\n#NoHeading\n\n\x07bell\tand tab"
    )
    assert texts.blocks(body) == [
        Block("heading", ("Title",)),
        Block("paragraph", ("First line", "second line")),
        Block("list", ("one", "two")),
        Block("paragraph", ("- not a list", "because of this line")),
        Block("paragraph", ("#NoHeading",)),
        Block("paragraph", ("bell and tab",)),
    ]
    assert texts.clean("  \n\nText\x00 \n\n") == "Text"
