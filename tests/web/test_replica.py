"""Reports read from a read replica (DATABASE_REPLICA_URL), everything else on the primary.

On PostgreSQL the replica is a real streaming replica of the test server
(tests.conftest.replica_url): read-only, and behind for as long as its replay is
paused. On SQLite it is a read-only connection to the same file.
"""

from __future__ import annotations

import fcntl
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from lokaal_sparen.app import create_app
from loyalty.analytics import catalog, generate, release
from loyalty.infra.db import make_engine
from loyalty.models import LedgerTransaction, PurchaseEvent, Role, RollupState, Scheme
from tests.analytics_data import SECTORS, VILLAGES
from tests.conftest import PublicHostClient, free_port, wait_for_replica
from tests.factories import bearer, make_merchant, make_scheme, make_shop, make_user, staff_token
from tests.forms import signed_in

PERIOD = {"from": "2026-09-01", "to": "2026-09-30"}
BEHIND = "behind: what happened most recently may be missing"
LAG_NOTICE = 3  # seconds


def _app(database_url: str, replica_url: str | None) -> Flask:
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "DATABASE_REPLICA_URL": replica_url,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_URL": "https://sparen.example.be",
        # A lag of 3 seconds is shown (10 by default): the test pauses replay longer.
        "REPLICA_LAG_NOTICE_SECONDS": LAG_NOTICE,
    })
    app.test_client_class = PublicHostClient
    return app


def _dispose(app: Flask) -> None:
    app.extensions["loyalty.engine"].dispose()
    if "loyalty.replica" in app.extensions:
        app.extensions["loyalty.replica"].engine.dispose()


@pytest.fixture
def replica_app(database_url: str, replica_url: str) -> Iterator[Flask]:
    """The app with DATABASE_REPLICA_URL set (``app`` is the same without it)."""
    app = _app(database_url, replica_url)
    yield app
    _dispose(app)


@pytest.fixture
def scheme(session: Session) -> Scheme:
    """A town with 20 shops and four months of sales, none folded into the rollups yet."""
    scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
    scheme.k_anonymity = 5
    for sector in SECTORS:
        make_merchant(session, scheme, sector=sector)
    generate.generate_events(session, scheme, 1500, end=date(2026, 10, 31), days=120, seed=7,
                             shoppers=120)
    # Released up to 15 September: the reports' figures are sums of released cells
    # (with the least noise the settings allow: this is about where they are read).
    scheme.release_epsilon_per_day = 4.0
    scheme.release_max_purchases = 1
    scheme.release_max_cents = 5_000
    release.release(session, scheme, datetime(2026, 9, 16, 3, tzinfo=UTC))
    session.commit()
    return scheme


def _analyst_token(app: Flask, session: Session, scheme: Scheme) -> dict[str, str]:
    return bearer(staff_token(app.test_client(), make_user(session, scheme,
                                                           Role.MUNICIPALITY_ANALYST)))


def _report(app: Flask, headers: dict[str, str], name: str) -> Any:
    answer = app.test_client().get(f"/api/v1/reports/{name}", query_string=PERIOD,
                                   headers=headers)
    assert answer.status_code == 200, (name, answer.json)
    return answer.json


def _watermark(session: Session, scheme: Scheme) -> int:
    session.expire_all()
    state = session.get(RollupState, scheme.id)
    session.commit()
    return state.last_event_id if state else 0


def _newest_event(session: Session, scheme: Scheme) -> int:
    newest = session.scalar(
        sa.select(sa.func.max(PurchaseEvent.id)).where(PurchaseEvent.scheme_id == scheme.id))
    session.commit()
    return int(newest or 0)


def test_reports_read_on_the_replica_are_the_primarys_figures(
    app: Flask, replica_app: Flask, session: Session, scheme: Scheme, database_url: str,
    replica_url: str,
) -> None:
    token = _analyst_token(app, session, scheme)
    # The first report folds the new sales into the rollups: a write, so on the
    # primary (the replica refuses every write).
    _report(replica_app, token, "sectors")
    assert _watermark(session, scheme) == _newest_event(session, scheme)
    wait_for_replica(database_url, replica_url)
    for name in catalog.CATALOG:
        assert _report(replica_app, token, name) == _report(app, token, name), name
    assert _report(app, token, "sectors")["released_until"] == "2026-09-15"
    spending = app.test_client().get("/api/v1/reports/spending", headers=token,
                                     query_string={"by": "sector", **PERIOD})
    assert replica_app.test_client().get(
        "/api/v1/reports/spending", headers=token, query_string={"by": "sector", **PERIOD}
    ).json == spending.json

    # The dashboard's pages read the replica too, and say nothing of a lag it has not.
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    pages = []
    for each in (replica_app, app):
        client = each.test_client()
        signed_in(client, analyst.email)
        page = client.get("/dashboard/reports/sectors", query_string={**PERIOD, "lang": "en"})
        assert page.status_code == 200
        exported = client.get("/dashboard/reports/sectors.json", query_string=PERIOD)
        pages.append((BEHIND in page.get_data(as_text=True), exported.json))
        assert client.get("/dashboard/?lang=en").status_code == 200
    assert pages[0] == pages[1] and pages[0][0] is False


def test_every_write_goes_to_the_primary(
    replica_app: Flask, session: Session, verify_ledger: Any
) -> None:
    # The replica cannot be written to: a write there fails.
    replica = replica_app.extensions["loyalty.replica"].engine
    with pytest.raises(sa.exc.DBAPIError), replica.begin() as conn:
        conn.execute(sa.update(Scheme).values(name="changed on the replica"))

    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
    client = replica_app.test_client()
    sale = client.post("/api/v1/claims", json={"amount_cents": 5000}, headers=shop.headers)
    assert sale.status_code == 201
    wallet = client.post("/api/v1/wallets", json={"scheme": scheme.slug})
    assert wallet.status_code == 201
    shopper = bearer(wallet.json["wallet_token"])
    collected = client.post(f"/api/v1/claims/{sale.json['token']}/claim", headers=shopper)
    assert collected.status_code == 200 and collected.json["balance"] == 50
    hold = client.post("/api/v1/wallet/redemptions", json={"points": 20}, headers=shopper)
    assert hold.status_code == 201
    confirmed = client.post(f"/api/v1/redemptions/{hold.json['code']}/confirm",
                            headers=shop.headers)
    assert confirmed.status_code == 200, confirmed.json

    # A report with a sale not yet folded in: the rollups move on the primary.
    admin_token = bearer(staff_token(client, admin))
    assert _watermark(session, scheme) < _newest_event(session, scheme)
    assert client.get("/api/v1/reports/sectors", headers=admin_token).status_code == 200
    assert _watermark(session, scheme) == _newest_event(session, scheme)

    # Staff sign-in (a session record) and a page that writes, with a form.
    signed_in(client, admin.email)
    assert client.get("/dashboard/?lang=en").status_code == 200
    assert client.get("/dashboard/reports/points", query_string={"lang": "en"}).status_code == 200

    kinds = session.scalars(
        sa.select(LedgerTransaction.kind).where(LedgerTransaction.scheme_id == scheme.id)
    ).all()
    session.commit()
    assert sorted(kinds) == ["earn", "hold", "redeem"]
    verify_ledger()


@contextmanager
def paused_replay(replica_url: str) -> Iterator[None]:
    """The replica replays nothing inside the block (it still receives the WAL).

    One test run at a time pauses it: another run's resume must not end this pause.
    """
    engine = make_engine(replica_url, isolation_level="AUTOCOMMIT")
    lock = Path(tempfile.gettempdir()) / "lokaal-sparen-replica-pause.lock"
    with lock.open("a") as held, engine.connect() as conn:
        fcntl.flock(held, fcntl.LOCK_EX)
        conn.exec_driver_sql("SELECT pg_wal_replay_pause()")
        try:
            for _ in range(100):
                state = conn.exec_driver_sql("SELECT pg_get_wal_replay_pause_state()").scalar()
                if state == "paused":
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the replica's replay did not pause")
            yield
        finally:
            conn.exec_driver_sql("SELECT pg_wal_replay_resume()")
    engine.dispose()


def test_a_lagging_replica_says_so_on_the_page(
    app: Flask, replica_app: Flask, session: Session, scheme: Scheme, dialect: str,
    database_url: str, replica_url: str,
) -> None:
    if dialect != "postgresql":
        pytest.skip("needs a streaming replica whose replay can be paused (PostgreSQL)")
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    behind, primary = replica_app.test_client(), app.test_client()
    for client in (behind, primary):
        signed_in(client, analyst.email)

    def figures(client: Any) -> Any:
        answer = client.get("/dashboard/reports/sectors.json", query_string=PERIOD)
        assert answer.status_code == 200
        return answer.json["total"]

    scheme.compare_opt_in = True  # its figures are shared with the other towns
    session.commit()
    token = _analyst_token(app, session, scheme)
    before = figures(primary)  # the sales folded in
    wait_for_replica(database_url, replica_url)
    assert figures(behind) == before
    assert _report(replica_app, token, "sectors")["total"] == before
    with paused_replay(replica_url):
        # More sales in September, committed on the primary while the replica
        # replays nothing; then more than the notice's seconds pass.
        generate.generate_events(session, scheme, 300, end=date(2026, 9, 30), days=30, seed=8,
                                 shoppers=120)
        # ... and the release of the rest of September (the nightly job).
        release.release(session, scheme, datetime(2026, 10, 1, 3, tzinfo=UTC))
        session.commit()
        time.sleep(LAG_NOTICE + 0.2)
        now = figures(primary)
        assert now != before
        # The replica has not replayed the new sales: the pages and the API read it.
        assert figures(behind) == before
        late = _report(replica_app, token, "sectors")
        assert late["total"] == before and late["behind_seconds"] >= LAG_NOTICE
        current = _report(app, token, "sectors")
        assert current["total"] == now and "behind_seconds" not in current
        spending = replica_app.test_client().get(
            "/api/v1/reports/spending", headers=token, query_string={"by": "sector", **PERIOD})
        assert spending.json["behind_seconds"] >= LAG_NOTICE
        page = behind.get("/dashboard/reports/sectors", query_string={**PERIOD, "lang": "en"})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "These figures come from a copy of the database that is up to" in text
        assert "second" in text and BEHIND in text
        dutch = behind.get("/dashboard/reports/sectors", query_string={**PERIOD, "lang": "nl"})
        assert "achterloopt" in dutch.get_data(as_text=True)
        overview = behind.get("/dashboard/?lang=en").get_data(as_text=True)
        assert BEHIND in overview
        # The comparison of towns is a report too (campaign and event evaluations
        # take the same way, loyalty.web.replica.read).
        compared = behind.get("/dashboard/compare?lang=en")
        assert compared.status_code == 200 and BEHIND in compared.get_data(as_text=True)
        assert BEHIND not in primary.get("/dashboard/compare?lang=en").get_data(as_text=True)
        # The primary itself is never behind.
        assert BEHIND not in primary.get(
            "/dashboard/reports/sectors", query_string={**PERIOD, "lang": "en"}
        ).get_data(as_text=True)

    wait_for_replica(database_url, replica_url)
    assert figures(behind) == now
    page = behind.get("/dashboard/reports/sectors", query_string={**PERIOD, "lang": "en"})
    assert BEHIND not in page.get_data(as_text=True)


def test_a_replica_that_does_not_answer_leaves_the_reports_to_the_primary(
    app: Flask, session: Session, scheme: Scheme, database_url: str, dialect: str,
    tmp_path: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = (f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
               if dialect == "postgresql" else
               f"sqlite:///file:{tmp_path / 'missing.db'}?mode=ro&uri=true")
    down = _app(database_url, nowhere)
    try:
        token = _analyst_token(app, session, scheme)
        with caplog.at_level(logging.WARNING, logger="loyalty.web.replica"):
            assert _report(down, token, "sectors") == _report(app, token, "sectors")
            analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
            client = down.test_client()
            signed_in(client, analyst.email)
            page = client.get("/dashboard/reports/weekdays", query_string={**PERIOD, "lang": "en"})
            assert page.status_code == 200 and BEHIND not in page.get_data(as_text=True)
        warnings = [r for r in caplog.records if r.name == "loyalty.web.replica"]
        # Said once; the replica is then left aside for a while instead of tried each time.
        assert len(warnings) == 1, warnings
        assert "the read replica did not answer" in warnings[0].getMessage()
        assert "read from the primary" in warnings[0].getMessage()
    finally:
        _dispose(down)
