"""`loyalty analytics refresh` as a real process: progress, a summary, idempotent."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from loyalty.analytics import generate
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import make_merchant, make_scheme
from tests.lokaal_sparen.helpers import run


def test_refresh_folds_new_events_once_and_says_so(database_url: str, session: Session) -> None:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    for sector in SECTORS[:6]:
        make_merchant(session, scheme, sector=sector)
    generate.generate_events(session, scheme, 1200, end=date(2026, 10, 31), days=60, seed=11)
    slug = scheme.slug
    session.commit()

    help_text = run(["analytics", "refresh", "--help"], database_url)
    assert help_text.returncode == 0 and "Example:" in help_text.stdout

    first = run(["analytics", "refresh", "--scheme", slug], database_url)
    assert first.returncode == 0, first.stderr
    assert f"{slug}: 1200/1200 events (100%)" in first.stdout
    assert "analytics refreshed: 1200 new events folded for 1 scheme(s)" in first.stdout

    again = run(["analytics", "refresh", "--scheme", slug], database_url)
    assert again.returncode == 0, again.stderr
    assert "analytics refreshed: 0 new events folded for 1 scheme(s)" in again.stdout

    unknown = run(["analytics", "refresh", "--scheme", "no-such-scheme"], database_url)
    assert unknown.returncode != 0 and "no-such-scheme" in unknown.stderr
