"""The published texts as the pages show them (loyalty.town.published_texts): their
titles and addresses, the default texts in the reader's formats, and the link in
every page's footer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale, get_translations
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from loyalty.models import Scheme
from loyalty.town import published_texts
from loyalty.town.published_texts import Block, Kind
from loyalty.web import i18n

# The address of each text: /privacy, /rules, /shop-terms (and /privacy/<scheme> ...).
PATHS = {"privacy": Kind.PRIVACY, "rules": Kind.RULES, "shop-terms": Kind.SHOP_TERMS}
PATH_OF: dict[str, str] = {kind.value: path for path, kind in PATHS.items()}
TITLES = {
    Kind.PRIVACY: _l("Privacy notice"),
    Kind.RULES: _l("Rules of the savings scheme"),
    Kind.SHOP_TERMS: _l("Terms for shops"),
}
# Each language in its own words, as the footer's language switch names them.
LANGUAGE_NAMES = {"nl": "Nederlands", "fr": "Français", "en": "English"}
# And in the reader's words, for sentences ("Readers in French see ...").
LANGUAGE_LABELS = {"nl": _l("Dutch"), "fr": _l("French"), "en": _l("English")}


def title(kind: str) -> str:
    return str(TITLES[Kind(kind)])


def language_label(language: str) -> str:
    return str(LANGUAGE_LABELS[language])


def default_text(scheme: Scheme, kind: str, language: str) -> str:
    """The default text in ``language`` (whatever the request's), from the settings now."""
    with force_locale(language):
        return published_texts.default_text(
            scheme, kind, get_translations(), i18n.BABEL_LOCALES[language]
        )


@dataclass(frozen=True)
class PageText:
    kind: str
    language: str  # of the text; Dutch when only the Dutch one was written
    blocks: list[Block]
    changed_at: datetime | None  # None: the default text


def page_text(session: Session, scheme: Scheme, kind: str, language: str) -> PageText:
    """What a reader in ``language`` sees of a text. Raises NotFound."""
    shown_in, version = published_texts.shown(session, scheme.id, kind, language)
    if version is None or version.body is None:
        return PageText(kind, shown_in, published_texts.blocks(
            default_text(scheme, kind, shown_in)), None)
    return PageText(kind, shown_in, published_texts.blocks(version.body), version.changed_at)
