"""What a town must publish: the privacy notice for shoppers, the scheme rules and
the terms for shops, each in Dutch, French and English.

Until the municipality writes its own, each text is a default generated from the
scheme's settings (what a point is worth, how many a euro earns, when they
expire, the privacy threshold k, the contact address), so it never states a
figure the scheme does not use. The municipality's versions are only added,
never changed: the newest one is shown, and "back to the default" adds a
version without a body. Every change is audited.

A text is plain text: paragraphs separated by a blank line, a line "# Title" on
its own is a heading, lines that all begin with "- " are a list. The pages
escape everything; no markup of the municipality's reaches a browser.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from babel.numbers import format_currency, format_decimal
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.infra.db import utcnow
from loyalty.models import PublishedText, Scheme, StaffUser
from loyalty.oversight import audit


class Kind(enum.StrEnum):
    PRIVACY = "privacy"  # the privacy notice for shoppers
    RULES = "rules"  # how points are earned, what they are worth, when they expire
    SHOP_TERMS = "shop_terms"  # what a shop agrees to when it joins


KINDS = tuple(kind.value for kind in Kind)
LANGUAGES = ("nl", "fr", "en")
# Dutch is the administrative language in Flanders: a text the municipality
# wrote only in Dutch is shown in Dutch rather than a default that may say otherwise.
FALLBACK = "nl"
# A long privacy notice is some 10,000 characters; a form post of this many
# stays well below the request size Werkzeug accepts.
MAX_LENGTH = 30_000
HISTORY = 20


class Catalogue(Protocol):
    """What the default texts need of a message catalogue (babel's Translations)."""

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...


# -- the plain-text format ------------------------------------------------------------


def clean(body: str) -> str:
    """The text as it is kept: line ends as "\\n", no invisible control characters
    (a NUL would not even fit PostgreSQL's text), no spaces at the line ends, no
    blank lines around it."""
    body = body.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    body = "".join(ch for ch in body if ch == "\n" or unicodedata.category(ch) != "Cc")
    return "\n".join(line.rstrip() for line in body.split("\n")).strip("\n ")


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "list" or "paragraph"
    lines: tuple[str, ...]


def blocks(body: str) -> list[Block]:
    """A text's headings, lists and paragraphs (their lines kept as typed)."""
    found = []
    for chunk in clean(body).split("\n\n"):
        lines = tuple(line.strip() for line in chunk.split("\n") if line.strip())
        if not lines:
            continue
        if len(lines) == 1 and lines[0].startswith("# ") and lines[0][2:].strip():
            found.append(Block("heading", (lines[0][2:].strip(),)))
        elif all(line.startswith("- ") and line[2:].strip() for line in lines):
            found.append(Block("list", tuple(line[2:].strip() for line in lines)))
        else:
            found.append(Block("paragraph", lines))
    return found


# -- versions ----------------------------------------------------------------------------


def _check(kind: str, language: str) -> None:
    if kind not in KINDS or language not in LANGUAGES:
        raise NotFound(f"no published text {kind!r} in {language!r}", code="unknown_text")


def _versions(scheme_id: int, kind: str, language: str) -> sa.Select[PublishedText]:
    return (
        sa.select(PublishedText)
        .where(
            PublishedText.scheme_id == scheme_id,
            PublishedText.kind == kind,
            PublishedText.language == language,
        )
        .order_by(PublishedText.version.desc())
    )


def current(session: Session, scheme_id: int, kind: str, language: str) -> PublishedText | None:
    """The newest version of a text (its body None: back to the default), or None
    when the municipality never changed it. Raises NotFound for an unknown kind or language."""
    _check(kind, language)
    return session.scalars(_versions(scheme_id, kind, language).limit(1)).first()


def history(
    session: Session, scheme_id: int, kind: str, language: str, *, limit: int = HISTORY
) -> list[PublishedText]:
    """The newest versions first. Raises NotFound for an unknown kind or language."""
    _check(kind, language)
    return list(session.scalars(_versions(scheme_id, kind, language).limit(limit)))


def version(
    session: Session, scheme_id: int, kind: str, language: str, number: int
) -> PublishedText:
    """One earlier version. Raises NotFound."""
    _check(kind, language)
    found = session.scalar(
        _versions(scheme_id, kind, language).where(PublishedText.version == number)
    )
    if found is None:
        raise NotFound(f"no version {number}", code="unknown_version")
    return found


def shown(
    session: Session, scheme_id: int, kind: str, language: str
) -> tuple[str, PublishedText | None]:
    """What a reader in ``language`` sees: the language of the text and the
    municipality's version, or None for the default text in that language.

    The reader's language when the municipality wrote a version in it; else the
    Dutch one when it wrote that; else the default in the reader's language.
    Raises NotFound for an unknown kind or language.
    """
    own = current(session, scheme_id, kind, language)
    if own is not None and own.body is not None:
        return language, own
    if language != FALLBACK:
        dutch = current(session, scheme_id, kind, FALLBACK)
        if dutch is not None and dutch.body is not None:
            return FALLBACK, dutch
    return language, None


def validate(body: str) -> str:
    """The cleaned body. Raises InvalidInput (text_empty, text_too_long)."""
    body = clean(body)
    if not body:
        raise InvalidInput("the text is empty", code="text_empty")
    if len(body) > MAX_LENGTH:
        raise InvalidInput(f"at most {MAX_LENGTH} characters", code="text_too_long")
    return body


def _add(
    session: Session,
    scheme: Scheme,
    actor: StaffUser | None,
    kind: str,
    language: str,
    body: str | None,
    based_on: int,
    now: datetime,
) -> PublishedText | None:
    newest = current(session, scheme.id, kind, language)
    number = newest.version if newest else 0
    if number != based_on:
        # Someone saved a version after the editor was opened: saving over it
        # unseen would lose their words.
        raise Conflict("the text was changed meanwhile", code="changed_meanwhile")
    if (newest.body if newest else None) == body:
        return None
    row = PublishedText(
        scheme_id=scheme.id,
        kind=kind,
        language=language,
        version=number + 1,
        body=body,
        changed_by_id=actor.id if actor else None,
        changed_by_label=actor.email if actor else audit.CLI_ACTOR,
        changed_at=now,
    )
    try:
        # Two admins saving at once both read the same newest version: the unique
        # key lets one insert it, and the savepoint turns the other's into a Conflict.
        with session.begin_nested():
            session.add(row)
    except sa.exc.IntegrityError:
        raise Conflict("the text was changed meanwhile", code="changed_meanwhile") from None
    details = {"text": kind, "language": language, "version": row.version}
    if body is None:
        audit.record(session, actor, "published_text.default", scheme, details, now=now)
    else:
        audit.record(session, actor, "published_text.change", scheme,
                     {**details, "characters": len(body)}, now=now)
    return row


def publish(
    session: Session,
    scheme: Scheme,
    actor: StaffUser | None,
    kind: str,
    language: str,
    body: str,
    *,
    based_on: int,
    now: datetime | None = None,
) -> PublishedText | None:
    """Publish the municipality's own text as the next version, audited; None when
    it is the text already shown. ``based_on``: the version the editor started
    from (0: none yet).

    Raises NotFound (kind or language), InvalidInput (empty, too long), Conflict
    (changed_meanwhile: another version was saved after ``based_on``).
    """
    _check(kind, language)
    return _add(session, scheme, actor, kind, language, validate(body), based_on,
                now or utcnow())


def back_to_default(
    session: Session,
    scheme: Scheme,
    actor: StaffUser | None,
    kind: str,
    language: str,
    *,
    based_on: int,
    now: datetime | None = None,
) -> PublishedText | None:
    """Show the default text again (a version without a body), audited; None when
    it is shown already. Raises NotFound, Conflict (changed_meanwhile)."""
    _check(kind, language)
    return _add(session, scheme, actor, kind, language, None, based_on, now or utcnow())


# -- the default texts ---------------------------------------------------------------------


def _l(text: str) -> str:
    """Marks a text for translation; ``default_text`` translates it when it writes."""
    return text


PRIVACY = (
    ("#", _l("Who is responsible for your data?")),
    ("", _l("The municipality of %(municipality)s runs the savings scheme Lokaal Sparen and "
            "is the controller of your personal data. It uses your data only to run the "
            "savings scheme: to keep your points, to let you spend them in the participating "
            "shops, to settle with those shops and to prevent fraud.")),
    ("#", _l("What we keep")),
    ("", _l("Your wallet is anonymous: we never ask for your name, address or date of "
            "birth. We keep:")),
    ("-", _l("a random code that links your wallet to your phone (in a cookie) or to your "
             "printed card;")),
    ("-", _l("your points: in which shop, on which day and for which amount you collected "
             "or spent them;")),
    ("-", _l("your e-mail address, only if you add it: to open your wallet on another phone "
             "and to remind you before points expire;")),
    ("-", _l("your postcode, village and age band, only if you share them for the "
             "statistics.")),
    ("", _l("We keep no bank or card details: you pay the shop as usual.")),
    ("#", _l("Why we may use your data")),
    ("", _l("The municipality runs the savings scheme to support local shops, a task in the "
            "public interest. Your postcode, village and age band are used only with your "
            "consent, which you can withdraw at any time.")),
    ("#", _l("Who sees what")),
    ("", _l("A shop sees the sales in its own shop, never your e-mail address. The "
            "municipality's reports show totals only: a figure that comes from fewer than "
            "%(k)s shoppers is hidden. In those statistics your wallet is a code that changes "
            "every year, and your postcode, village and age band are in them only if you "
            "shared them. We do not sell your data, and there are no advertisements and no "
            "trackers.")),
    ("#", _l("How long we keep it")),
    ("", _l("Your wallet and its points stay as long as you use them; points expire "
            "%(validity)s after you collected them. Your e-mail address stays until you "
            "delete your wallet, your answers for the statistics until you withdraw your "
            "consent or delete your wallet. Which points were collected and spent where is "
            "part of the scheme's accounts and is kept as long as the law requires; after "
            "you delete your wallet, it is no longer linked to you.")),
    ("#", _l("Your rights")),
    ("", _l("On the page Account you can download all the data of your wallet, withdraw your "
            "consent for the statistics and delete your wallet. Deleting erases your e-mail "
            "address and your answers for the statistics; the points left in the wallet are "
            "lost.")),
    ("", _l("You also have the right to access, correct and erase your data, to restrict its "
            "use and to object to it.")),
    ("@", ""),  # how to reach the municipality: its address, or the town hall
    ("", _l("You may also lodge a complaint with the Data Protection Authority "
            "(www.dataprotectionauthority.be).")),
    ("#", _l("Cookies")),
    ("", _l("We use only the cookies the service needs: one keeps your wallet on your phone, "
            "one remembers the language you chose. Nothing comes from other websites.")),
)
PRIVACY_CONTACT = _l("To use these rights, or with a question about your data, write to "
                     "%(contact)s.")
PRIVACY_TOWN_HALL = _l("To use these rights, or with a question about your data, contact "
                       "the town hall of %(municipality)s.")

RULES = (
    ("#", _l("Collecting points")),
    ("", _l("In every participating shop of %(municipality)s you collect %(earn)s. A shop may "
            "give more points, at its own cost.")),
    ("", _l("Scan the QR code the cashier shows with your phone's camera and tap “Collect "
            "points”, or let the cashier scan your printed card. Do it right away: the QR "
            "code of a sale is valid for a short time only.")),
    ("#", _l("What points are worth")),
    ("", _l("One point is worth %(point_value)s of discount: 100 points are worth "
            "%(hundred_points)s. You spend points in every participating shop, also in "
            "another shop than the one where you collected them. Points cannot be exchanged "
            "for money.")),
    ("", _l("To spend points, choose how many in your wallet: you get a spend code to show "
            "at the till. The code is valid for %(hold)s; if it is not used, the points "
            "return to your wallet. With a printed card, the cashier asks for its PIN.")),
    ("#", _l("When points expire")),
    ("", _l("Points stay valid for %(validity)s after the day you collected them. Older "
            "points expire, the oldest first. If your wallet has an e-mail address, we remind "
            "you when points will expire within 30 days.")),
    ("#", _l("Stamp cards")),
    ("", _l("Some shops also have a stamp card of their own. A full stamp card becomes a "
            "voucher that you use in that shop only.")),
    ("#", _l("Corrections")),
    ("", _l("A shop can take back the points of a mistyped sale within %(correction)s after "
            "you collected them. Points of that sale you already spent are not taken back.")),
    ("#", _l("Keep your wallet safe")),
    ("", _l("Keep the recovery code you got, or add your e-mail address: then you can open "
            "your wallet on another phone. If you delete your wallet, the points in it are "
            "lost.")),
    ("#", _l("Changes and questions")),
    ("", _l("The municipality of %(municipality)s sets these rules and publishes every "
            "change on this page.")),
    ("@", ""),
)
SHOP_TERMS = (
    ("#", _l("Joining")),
    ("", _l("A shop in %(municipality)s joins with the form “Join with your shop”. The "
            "municipality checks the application and decides; only an approved shop gives "
            "and takes points.")),
    ("#", _l("Giving points")),
    ("", _l("On every sale you give at least %(earn)s. You may give more, at your own cost. "
            "For every point you give, you owe the scheme its value: %(point_value)s.")),
    ("#", _l("Taking points")),
    ("", _l("You accept points as a discount, also points collected in other shops: one point "
            "is worth %(point_value)s. For every point spent in your shop, the scheme owes "
            "you that value.")),
    ("", _l("Stamp cards you set up are your own: their vouchers are used in your shop only "
            "and are not settled.")),
    ("#", _l("Monthly settlement")),
    ("", _l("After every month the scheme settles with every shop: the value of the points "
            "spent in your shop, minus the value of the points you gave, minus the monthly "
            "fee.")),
    ("$", ""),  # the monthly fee, or that there is none
    ("", _l("Your statement is in the portal. If the scheme owes you money, it is paid to "
            "the bank account in your shop's profile; if you owe money, you transfer it with "
            "the structured communication on your statement.")),
    ("#", _l("Correcting a sale")),
    ("", _l("A mistyped sale can be corrected in the portal within %(correction)s after the "
            "shopper collected the points. Points the shopper already spent stay at your "
            "cost.")),
    ("#", _l("Fair use")),
    ("", _l("Give points only for real purchases in your shop, and keep your sign-in and "
            "your till keys to yourself. The municipality checks for unusual patterns. It may "
            "suspend a shop that misuses the scheme: a suspended shop can no longer give or "
            "take points.")),
    ("#", _l("Shoppers' data")),
    ("", _l("You see the sales of your own shop, not who the shoppers are. Keep whatever you "
            "learn about shoppers to yourself. The municipality of %(municipality)s is the "
            "controller of the shoppers' data; its privacy notice says how they are "
            "handled.")),
    ("#", _l("Leaving")),
    ("", _l("You can leave the scheme at any time by telling the municipality. What is still "
            "open is settled in the next monthly settlement; the points you gave stay valid "
            "for the shoppers.")),
    ("@", ""),
)
QUESTIONS_CONTACT = _l("Questions? Write to %(contact)s.")
QUESTIONS_TOWN_HALL = _l("Questions? Contact the town hall of %(municipality)s.")
FEE = _l("The monthly fee is %(fee)s.")
NO_FEE = _l("There is no monthly fee.")

TEXTS = {Kind.PRIVACY: PRIVACY, Kind.RULES: RULES, Kind.SHOP_TERMS: SHOP_TERMS}


def default_text(scheme: Scheme, kind: str, catalogue: Catalogue, locale: str) -> str:
    """The default text of ``kind`` in the catalogue's language, from the scheme's
    settings now; amounts and numbers as ``locale`` writes them (nl_BE, fr_BE, en_IE).
    Raises NotFound for an unknown kind."""
    if kind not in KINDS:
        raise NotFound(f"no published text {kind!r}", code="unknown_text")

    def euro(cents: int) -> str:
        return format_currency(cents / 100, "EUR", locale=locale)

    def count(translated: str, n: int) -> str:
        return translated % {"num": format_decimal(n, locale=locale)}

    rate, months = scheme.earn_rate, scheme.validity_months
    hold, days = max(1, scheme.hold_ttl_seconds // 60), scheme.correction_days
    if kind == Kind.SHOP_TERMS:
        earn = catalogue.ngettext("%(num)s point for every full euro of the sale",
                                  "%(num)s points for every full euro of the sale", rate)
    else:
        earn = catalogue.ngettext("%(num)s point for every full euro you spend",
                                  "%(num)s points for every full euro you spend", rate)
    values = {
        "municipality": scheme.name,
        "point_value": euro(scheme.point_value_cents),
        "hundred_points": euro(100 * scheme.point_value_cents),
        "k": format_decimal(scheme.k_anonymity, locale=locale),
        "contact": scheme.contact_email or "",
        "fee": euro(scheme.monthly_fee_cents),
        "earn": count(earn, rate),
        "validity": count(catalogue.ngettext("%(num)s month", "%(num)s months", months), months),
        "hold": count(catalogue.ngettext("%(num)s minute", "%(num)s minutes", hold), hold),
        "correction": count(catalogue.ngettext("%(num)s day", "%(num)s days", days), days),
    }
    if kind == Kind.PRIVACY:
        contact = PRIVACY_CONTACT if scheme.contact_email else PRIVACY_TOWN_HALL
    else:
        contact = QUESTIONS_CONTACT if scheme.contact_email else QUESTIONS_TOWN_HALL
    fee = FEE if scheme.monthly_fee_cents else NO_FEE

    def write(message: str) -> str:
        return catalogue.gettext(message) % values

    out: list[str] = []
    for mark, message in TEXTS[Kind(kind)]:
        if mark == "#":
            out.append(f"# {write(message)}")
        elif mark == "-":
            # A list's items are one block: joined to the previous item.
            if out and out[-1].startswith("- "):
                out[-1] += f"\n- {write(message)}"
            else:
                out.append(f"- {write(message)}")
        elif mark == "@":
            out.append(write(contact))
        elif mark == "$":
            out.append(write(fee))
        else:
            out.append(write(message))
    return "\n\n".join(out)
