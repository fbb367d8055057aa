"""Helpers for tests that fill in the pages' forms with Flask's test client."""

from __future__ import annotations

import re

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf(html: str) -> str:
    """The CSRF token of the (first) form in a page."""
    match = CSRF.search(html)
    assert match, "no CSRF token in the page:\n" + html[:2000]
    return match.group(1)
