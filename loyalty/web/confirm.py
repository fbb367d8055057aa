"""A second step before an action that cannot simply be undone (suspending a shop,
deactivating a colleague, revoking a till key ...): the first POST shows what
will happen and a button that posts the same form again, confirmed.

Server-side, so it works without JavaScript (and under a Content-Security-Policy
without inline script), and a keyboard or screen-reader user meets the same
question as everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import request

CONFIRMED = "confirmed"


@dataclass(frozen=True)
class Question:
    title: str  # "Suspend Bakkerij De Smet?"
    consequence: str  # what will happen, in plain words
    yes: str  # the button: "Yes, suspend"
    back: str  # where "No" leads


def confirmed() -> bool:
    """True when this POST comes from the confirmation page's button."""
    return request.form.get(CONFIRMED) == "1"


def ask(render: Callable[..., Any], question: Question) -> Any:
    """The question page (status 200; nothing has changed). ``render`` is the front
    end's own, so the page has its menu; its ``confirm.html`` includes the shared body."""
    fields = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in ("csrf_token", CONFIRMED)
    ]
    return render("confirm.html", question=question, fields=fields, action=request.path)
