"""`loyalty analytics release` as a real process: progress, a summary, each day once."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from lokaal_sparen import tasks
from loyalty.analytics import generate, release, report_kit
from loyalty.models import CampaignRelease, Scheme
from tests import campaign_data
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import make_merchant, make_scheme
from tests.lokaal_sparen.helpers import run


def test_release_writes_each_closed_day_once_and_says_so(database_url: str,
                                                         session: Session) -> None:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    for sector in SECTORS[:6]:
        make_merchant(session, scheme, sector=sector)
    # Ten days of sales up to yesterday (in the town: after 23:00 UTC it is tomorrow
    # there); today is still open.
    yesterday = report_kit.today_local(scheme) - timedelta(days=1)
    generate.generate_events(session, scheme, 400, end=yesterday, days=10, seed=12)
    slug = scheme.slug
    session.commit()

    help_text = run(["analytics", "release", "--help"], database_url)
    assert help_text.returncode == 0 and "Example:" in help_text.stdout

    first = run(["analytics", "release", "--scheme", slug], database_url)
    assert first.returncode == 0, first.stderr
    # Near midnight yesterday may still be in its half hour of grace.
    days = 10 if f"{slug}: days 10/10" in first.stdout else 9
    assert f"{slug}: days {days}/{days}" in first.stdout
    summary = first.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"statistics released: {days} day(s), ")
    assert "cells for 1 scheme(s) in " in summary
    # The weeks (and months) of those days that have closed are released too: the
    # week of the first sale ended at least three days before today.
    periods = re.search(r"(\d+) period\(s\) of shopper figures, (\d+) cells", summary)
    assert periods and int(periods.group(1)) >= 1 and int(periods.group(2)) > 0, summary
    assert f"{slug}: periods " in first.stdout

    again = run(["analytics", "release", "--scheme", slug], database_url)
    assert again.returncode == 0, again.stderr
    assert ("statistics released: 0 day(s), 0 cells, 0 period(s) of shopper figures, 0 cells "
            "for 1 scheme(s)") in again.stdout

    unknown = run(["analytics", "release", "--scheme", "no-such-scheme"], database_url)
    assert unknown.returncode != 0 and "no-such-scheme" in unknown.stderr


def test_the_release_job_releases_a_closed_campaign_once(app: Flask, session: Session) -> None:
    campaign, _sales = campaign_data.generate(session, 0.15, 12)
    slug = session.get_one(Scheme, campaign.scheme_id).slug
    campaign_id = campaign.id
    session.commit()
    lines: list[str] = []
    with app.app_context():
        # The campaign's last day has not closed yet: its days are released, it is not.
        early = tasks.release_statistics(lines.append, campaign.ends_at, slug)
        assert "campaign" not in early.summary
        assert session.get(CampaignRelease, campaign_id) is None
        session.commit()  # a fresh read below, not this transaction's snapshot
        first = tasks.release_statistics(lines.append, campaign_data.AFTER_END, slug)
        assert ", 1 campaign(s) for 1 scheme(s)" in first.summary, first.summary
        again = tasks.release_statistics(lines.append, campaign_data.AFTER_END, slug)
        assert again.summary == ("statistics released: 0 day(s), 0 cells, 0 period(s) of "
                                 "shopper figures, 0 cells for 1 scheme(s)")
    assert session.get_one(CampaignRelease, campaign_id).participating_shops == 11


def test_the_release_job_gives_days_released_before_the_shop_table_their_shop_cells_once(
        app: Flask, session: Session) -> None:
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    for sector in SECTORS[:5]:
        make_merchant(session, scheme, sector=sector)
    last = date(2026, 11, 12)
    generate.generate_events(session, scheme, 200, end=last, days=4, seed=3)
    # The four days released as before the merchant table: five tables, no shop cells.
    keys = release.table_keys(session, scheme)
    del keys["merchant"]
    for n in range(4):
        assert release.release_day(session, scheme, last - timedelta(days=n), keys)
    slug = scheme.slug
    session.commit()
    lines: list[str] = []
    after = datetime(2026, 11, 13, 2, tzinfo=UTC)
    with app.app_context():
        first = tasks.release_statistics(lines.append, after, slug)
        assert first.summary.startswith("statistics released: 0 day(s), 0 cells, ")
        assert ", shop figures of 4 earlier day(s) for 1 scheme(s)" in first.summary
        assert f"  {slug}: 4 day(s) released before the shop table got it (20 cells)" in lines
        again = tasks.release_statistics(lines.append, after, slug)
        assert "shop figures" not in again.summary, again.summary
