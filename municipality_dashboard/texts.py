"""The published texts (privacy notice, scheme rules, terms for shops) in each
language: an admin writes, previews, publishes and goes back to the default
text; an analyst reads them and their history. Every change is audited by
loyalty.town.published_texts."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.models import PublishedText, Role, Scheme
from loyalty.town import published_texts
from loyalty.web import confirm, db, i18n, published
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, STAFF, bp, current_scheme, render
from municipality_dashboard.forms import ActionForm, PublishedTextForm


def _kind(text: str, language: str) -> str:
    """The kind of the address's text; 404 for an unknown text or language."""
    if text not in published.PATHS or language not in published_texts.LANGUAGES:
        abort(404)
    return published.PATHS[text]


def _based_on() -> int:
    """The version the editor was opened on, as the form carries it."""
    raw = request.form.get("based_on", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        abort(400)
    return int(raw)


@bp.get("/texts")
@staff_required(*STAFF)
def published_texts_page() -> Any:
    """The three texts in each language: which is the default, which the municipality's."""
    scheme = current_scheme()
    session = db()
    states = {
        (kind, language): published_texts.current(session, scheme.id, kind, language)
        for kind in published_texts.KINDS
        for language in published_texts.LANGUAGES
    }
    return render(
        "texts.html",
        scheme=scheme,
        kinds=[(kind, published.PATH_OF[kind], published.title(kind))
               for kind in published_texts.KINDS],
        languages=published.LANGUAGE_NAMES,
        states=states,
    )


def _editor(
    scheme: Scheme,
    text: str,
    language: str,
    status: int = 200,
    *,
    form: PublishedTextForm | None = None,
    preview: list[published_texts.Block] | None = None,
    error: str = "",
    loaded: PublishedText | None = None,
) -> Any:
    session = db()
    kind = _kind(text, language)
    newest = published_texts.current(session, scheme.id, kind, language)
    own = newest if newest is not None and newest.body is not None else None
    dutch = None
    if own is None and language != published_texts.FALLBACK:
        dutch = published_texts.current(session, scheme.id, kind, published_texts.FALLBACK)
        dutch = dutch if dutch is not None and dutch.body is not None else None
    body = own.body if own is not None and own.body is not None else (
        published.default_text(scheme, kind, language))
    if form is None:
        start = body
        if loaded is not None:
            start = loaded.body if loaded.body is not None else (
                published.default_text(scheme, kind, language))
        form = PublishedTextForm(formdata=None, data={"body": start})
    admin = current_staff().role == Role.MUNICIPALITY_ADMIN
    return render(
        "text_edit.html",
        status,
        scheme=scheme,
        text=text,
        kind=kind,
        title=published.title(kind),
        language=language,
        language_name=published.language_label(language),
        languages=published.LANGUAGE_NAMES,
        own=own,
        dutch=dutch,
        shown=published_texts.blocks(body),
        based_on=newest.version if newest is not None else 0,
        history=published_texts.history(session, scheme.id, kind, language),
        form=form,
        preview=preview,
        error=error,
        loaded=loaded,
        admin=admin,
        reset_form=ActionForm(formdata=None),
        max_length=i18n.number(published_texts.MAX_LENGTH),
        public_url=url_for("consumer.published_text", text=text, scheme=scheme.slug,
                           lang=language),
        done=request.args.get("done"),
    )


@bp.get("/texts/<text>/<language>")
@staff_required(*STAFF)
def published_text_editor(text: str, language: str) -> Any:
    """One text in one language: the editor for an admin, the text for an analyst."""
    scheme = current_scheme()
    kind = _kind(text, language)
    loaded = None
    wanted = request.args.get("version", "")
    if wanted and current_staff().role == Role.MUNICIPALITY_ADMIN:
        if not wanted.isascii() or not wanted.isdigit() or len(wanted) > 9:
            abort(404)
        try:
            loaded = published_texts.version(db(), scheme.id, kind, language, int(wanted))
        except NotFound:
            abort(404)
    return _editor(scheme, text, language, loaded=loaded)


def _text_error(error: InvalidInput, body: str) -> str:
    if error.code == "text_too_long":
        return _(
            "At most %(max)s characters; this text has %(count)s. Shorten it.",
            max=i18n.number(published_texts.MAX_LENGTH),
            count=i18n.number(len(published_texts.clean(body))),
        )
    return _("Write the text, or go back to the default text.")


@bp.post("/texts/<text>/<language>")
@staff_required(*ADMIN)
def published_text_save(text: str, language: str) -> Any:
    """Preview the text, or publish it as the next version."""
    scheme = current_scheme()
    kind = _kind(text, language)
    form = PublishedTextForm()
    based_on = _based_on()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _editor(scheme, text, language, 422, form=form)
    body = form.body.data or ""
    try:
        cleaned = published_texts.validate(body)
    except InvalidInput as error:
        form.body.errors = [_text_error(error, body)]
        return _editor(scheme, text, language, 422, form=form)
    if request.form.get("action") == "preview":
        return _editor(scheme, text, language, form=form, preview=published_texts.blocks(cleaned))
    newest = published_texts.current(db(), scheme.id, kind, language)
    default = published_texts.clean(published.default_text(scheme, kind, language))
    if (newest is None or newest.body is None) and cleaned == default:
        # Publishing the default text unchanged would freeze it: it would no
        # longer follow the settings. Nothing to do.
        return redirect(url_for("dashboard.published_text_editor", text=text,
                                language=language, done="unchanged"), 303)
    try:
        saved = published_texts.publish(
            db(), scheme, current_staff().user, kind, language, body, based_on=based_on
        )
    except Conflict:
        return _editor(scheme, text, language, 409, form=form, error=_changed_meanwhile())
    return redirect(url_for("dashboard.published_text_editor", text=text, language=language,
                            done="published" if saved else "unchanged"), 303)


def _changed_meanwhile() -> str:
    return _("Someone published a version of this text after you opened the editor. Your "
             "text is still below: read what is published now, then publish yours again if "
             "it should replace it.")


@bp.post("/texts/<text>/<language>/default")
@staff_required(*ADMIN)
def published_text_default(text: str, language: str) -> Any:
    """Go back to the default text (after a confirmation step)."""
    scheme = current_scheme()
    kind = _kind(text, language)
    if not ActionForm().validate_on_submit():
        abort(400)
    based_on = _based_on()
    back = url_for("dashboard.published_text_editor", text=text, language=language)
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("%(text)s in %(language)s: back to the default text?",
              text=published.title(kind), language=published.language_label(language)),
            _("Readers see the text written from the scheme's settings again, and it follows "
              "every change of the settings. Your text stays in the history: you can load it "
              "into the editor and publish it again."),
            _("Yes, back to the default text"), back))
    try:
        saved = published_texts.back_to_default(
            db(), scheme, current_staff().user, kind, language, based_on=based_on
        )
    except Conflict:
        return _editor(scheme, text, language, 409, error=_changed_meanwhile())
    return redirect(url_for("dashboard.published_text_editor", text=text, language=language,
                            done="default" if saved else "unchanged"), 303)
