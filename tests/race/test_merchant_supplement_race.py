"""Two releases at once of the days released before the merchant table (the nightly
job on two workers, or the job and `loyalty analytics release` by hand): each day
gets its shop cells once, and their budget is added to the day once."""

from __future__ import annotations

import math
import threading
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import generate, release
from loyalty.models import ReleasedCell, ReleasedDay, Scheme
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import make_merchant, make_scheme
from tests.race.helpers import TIMEOUT

LAST = date(2026, 12, 2)
AFTER = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 2 December closed, grace passed
DAYS = 6


def test_two_concurrent_supplements_write_each_days_shop_cells_once(
        app: Flask, db: Session) -> None:
    scheme = make_scheme(db, nis_code="46020", villages=VILLAGES)
    for sector in SECTORS[:8]:
        make_merchant(db, scheme, sector=sector)
    generate.generate_events(db, scheme, 400, end=LAST, days=DAYS, seed=4, shoppers=60)
    # Every day released as before the merchant table: five tables, no shop cells.
    keys = release.table_keys(db, scheme)
    del keys["merchant"]
    days = [LAST - timedelta(days=n) for n in range(DAYS)]
    for day in days:
        assert release.release_day(db, scheme, day, keys) is not None
    scheme_id, shops = scheme.id, len(release.merchant_keys(db, scheme.id))
    db.commit()
    factory = app.extensions["loyalty.sessions"]
    results: list[release.ReleaseResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def run() -> None:
        try:
            # On SQLite a writer's transaction takes the lock at its start, so the
            # two meet before it (on PostgreSQL the second waits on the cells' key).
            barrier.wait()
            with factory() as s, s.begin():
                results.append(release.release(s, s.get_one(Scheme, scheme_id), AFTER))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # Between them, each day was supplemented once (one run may have done them all).
    assert sum(r.supplemented for r in results) == DAYS
    assert sum(r.supplement_cells for r in results) == DAYS * shops
    assert sum(r.days for r in results) == 0
    db.expire_all()
    cells = db.scalar(sa.select(sa.func.count()).select_from(ReleasedCell).where(
        ReleasedCell.scheme_id == scheme_id, ReleasedCell.table == "merchant"))
    assert cells == DAYS * shops
    # Its budget added once per day: five tables' 1.0, and 2 x 1/12 for the shops.
    for day in days:
        assert math.isclose(db.get_one(ReleasedDay, (scheme_id, day)).epsilon, 1.0 + 2 / 12)
