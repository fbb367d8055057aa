"""E-mail to the people who run the server when a scheduled job failed or did not run.

To ``OPS_EMAIL`` (comma-separated addresses) when set, else to every active
municipality admin: in a town without an IT department they are the ones
who call for help. In Dutch, French and English in one message, like the
other mails to staff whose language we do not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from lokaal_sparen.tasks import transaction
from loyalty.infra import mail
from loyalty.models import Role, StaffUser
from loyalty.web import job_names, public_url

MESSAGES = {
    "failed": (
        _l("Lokaal Sparen: “%(job)s” failed"),
        _l("The scheduled job “%(job)s” failed:\n\n%(detail)s\n\nThe worker tries again "
           "within the hour. The Operations page shows every run:\n%(link)s"),
    ),
    "missed": (
        _l("Lokaal Sparen: “%(job)s” did not run"),
        _l("The scheduled job “%(job)s” was due at %(detail)s (UTC) and has not run. Is "
           "the worker (loyalty worker) running? The Operations page shows every job:\n"
           "%(link)s"),
    ),
}


def recipients(config: Mapping[str, Any]) -> list[str]:
    chosen = [a.strip() for a in str(config.get("OPS_EMAIL") or "").split(",") if a.strip()]
    if chosen:
        return chosen
    with transaction() as session:
        return list(session.scalars(
            sa.select(StaffUser.email).where(StaffUser.role == Role.MUNICIPALITY_ADMIN,
                                             StaffUser.active.is_(True))
            .order_by(StaffUser.id)
        ))


def send(config: Mapping[str, Any], what: str, job: str, detail: str) -> int:
    """E-mail that ``job`` ``what`` ("failed" or "missed"); returns how many were sent.

    Raises OSError or smtplib.SMTPException when the mail server refuses.
    """
    subject, body = MESSAGES[what]
    link = public_url("/dashboard/operations") if config.get("PUBLIC_URL") else ""
    subjects, texts = [], []
    for lang in ("nl", "fr", "en"):
        with force_locale(lang):
            name = job_names.label(job)
            subjects.append(str(subject) % {"job": name})
            texts.append(str(body) % {"job": name, "detail": detail, "link": link})
    to = recipients(config)
    for address in to:
        mail.send(config, address, " / ".join(dict.fromkeys(subjects)),
                  "\n\n".join(texts) + "\n")
    return len(to)
