"""The municipality's short messages to shoppers, shown in the wallet while current."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.models import Scheme, StaffUser, TownMessage
from loyalty.oversight import audit

MAX_TITLE = 120
MAX_BODY = 1000
MAX_DAYS = 92  # a quarter: a message is news, not a standing notice


def post_message(
    session: Session,
    scheme: Scheme,
    *,
    title: str,
    body: str,
    starts_on: date,
    ends_on: date,
    by: StaffUser | None,
    now: datetime,
) -> TownMessage:
    """A new message, audited in the same transaction. Raises InvalidInput."""
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(f"title must be 1 to {MAX_TITLE} characters")
    if not body or len(body) > MAX_BODY:
        raise InvalidInput(f"text must be 1 to {MAX_BODY} characters")
    if ends_on < starts_on:
        raise InvalidInput("the message cannot end before it starts", code="invalid_period")
    if (ends_on - starts_on).days >= MAX_DAYS:
        raise InvalidInput(f"a message is shown at most {MAX_DAYS} days", code="invalid_period")
    message = TownMessage(
        scheme_id=scheme.id, title=title, body=body, starts_on=starts_on, ends_on=ends_on,
        created_by=by.id if by else None, created_at=now,
    )
    session.add(message)
    session.flush()  # the id, for the audit entry
    audit.record(
        session, by, "message.create", scheme,
        {"message": message.id, "title": title, "from": str(starts_on), "to": str(ends_on)},
        scheme_id=scheme.id, now=now,
    )
    return message


def current(session: Session, scheme_id: int, today: date) -> list[TownMessage]:
    """The messages shown on ``today`` (the scheme's local day), newest first."""
    return list(
        session.scalars(
            sa.select(TownMessage)
            .where(
                TownMessage.scheme_id == scheme_id,
                TownMessage.starts_on <= today,
                TownMessage.ends_on >= today,
            )
            .order_by(TownMessage.starts_on.desc(), TownMessage.id.desc())
        )
    )


def list_messages(session: Session, scheme_id: int) -> list[TownMessage]:
    return list(
        session.scalars(
            sa.select(TownMessage)
            .where(TownMessage.scheme_id == scheme_id)
            .order_by(TownMessage.starts_on.desc(), TownMessage.id.desc())
        )
    )
