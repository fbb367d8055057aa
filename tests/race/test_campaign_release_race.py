"""Two releases of one campaign at once (the nightly job on two workers, or the job
and `loyalty analytics release` by hand): its figures are written once."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import campaign_release
from loyalty.models import CampaignRelease, CampaignReleasedDay, Scheme
from tests.campaign_data import AFTER_END, generate
from tests.race.helpers import TIMEOUT


def test_two_concurrent_releases_of_a_campaign_write_it_once(app: Flask, db: Session) -> None:
    campaign, _sales = generate(db, 0.15, 11)
    campaign_id, scheme_id = campaign.id, campaign.scheme_id
    db.commit()
    factory = app.extensions["loyalty.sessions"]
    results: list[campaign_release.Result] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def run() -> None:
        try:
            # On SQLite a writer's transaction takes the lock at its start, so the
            # two meet before it (on PostgreSQL the second waits on the key).
            barrier.wait()
            with factory() as s, s.begin():
                scheme = s.get_one(Scheme, scheme_id)
                results.append(campaign_release.release_campaigns(s, scheme, AFTER_END))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # One wrote the campaign's 98 figures; the other found it released (or, on
    # SQLite, where writers queue, saw it released before it began).
    assert sorted(r.campaigns for r in results) == [0, 1]
    assert sum(r.figures for r in results) == 98
    db.expire_all()
    assert db.scalar(sa.select(sa.func.count()).select_from(CampaignRelease).where(
        CampaignRelease.campaign_id == campaign_id)) == 1
    assert db.scalar(sa.select(sa.func.count()).select_from(CampaignReleasedDay).where(
        CampaignReleasedDay.campaign_id == campaign_id)) == 98
