"""Dashboard page of the town's messages to shoppers: post one, see them all."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from loyalty.infra.db import utcnow
from loyalty.town import messages
from loyalty.web import db, i18n
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import ADMIN, STAFF, bp, current_scheme, render


class MessageForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(),
                                                 Length(max=messages.MAX_TITLE)])
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=messages.MAX_BODY)])
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[DataRequired()])

    def validate_ends_on(self, field: Any) -> None:
        if self.starts_on.data and field.data:
            if field.data < self.starts_on.data:
                raise ValidationError(_l("The last day cannot be before the first day."))
            if (field.data - self.starts_on.data).days >= messages.MAX_DAYS:
                raise ValidationError(_l("A message is shown at most 92 days."))


@bp.route("/messages", methods=["GET", "POST"])
@staff_required(*STAFF)
def messages_page() -> Any:
    """The messages shown in the shoppers' wallets; admins post new ones (audited)."""
    scheme = current_scheme()
    is_admin = current_staff().user.role in ADMIN
    form = MessageForm()
    status = 200
    if form.is_submitted():
        if not is_admin:
            abort(403)
        if form.validate():
            messages.post_message(
                db(), scheme, title=form.title.data or "", body=form.body.data or "",
                starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                by=current_staff().user, now=utcnow(),
            )
            return redirect(url_for("dashboard.messages_page"), 303)
        status = 422
    return render(
        "messages.html", status, form=form if is_admin else None, day=i18n.long_day,
        found=messages.list_messages(db(), scheme.id),
    )
