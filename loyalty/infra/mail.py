"""Outgoing e-mail over SMTP; without MAIL_SERVER the message goes to the log.

The demo has no mail server, so its messages (magic links) appear in the
console where `loyalty demo` runs.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

log = logging.getLogger("loyalty.infra.mail")


def send(config: Mapping[str, Any], to: str, subject: str, body: str,
         headers: Mapping[str, str] | None = None) -> None:
    """Send a plain-text message; raises OSError/smtplib.SMTPException on failure.

    ``headers`` adds header lines, e.g. a digest's List-Unsubscribe."""
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM") or "Lokaal Sparen <noreply@lokaalsparen.invalid>"
    message["To"] = to
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    server = config.get("MAIL_SERVER")
    if not server:
        print(f"--- e-mail to {to} (no MAIL_SERVER set) ---\n{subject}\n\n{body}\n---", flush=True)
        return
    port = int(config.get("MAIL_PORT") or 25)
    with smtplib.SMTP(server, port, timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
