"""`loyalty worker`: each due job runs once, its outcome is kept and shown, a failure
or a missed run reaches the admins, and of several workers one runs each job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from lokaal_sparen import worker as worker_module
from lokaal_sparen.tasks import Outcome
from lokaal_sparen.worker import Worker
from loyalty.infra.db import utcnow
from loyalty.models import JobRun, Role, RunStatus, WorkerHeartbeat
from loyalty.operations import jobs, runs
from tests.conftest import Mailbox
from tests.factories import make_scheme, make_user
from tests.forms import signed_in

# A Thursday night in winter, after every nightly job's time (town time is UTC+1).
NIGHT = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)


def _runs(app: Flask) -> list[JobRun]:
    with app.extensions["loyalty.sessions"]() as session:
        return list(session.scalars(sa.select(JobRun).order_by(JobRun.id)))


def test_every_job_runs_once_when_due_and_again_at_its_next_time(ops_app: Flask) -> None:
    worker = Worker(ops_app, name="test-worker")
    done = worker.run_pass(NIGHT)
    names = [job.name for job in jobs.catalogue(ops_app.config)]
    assert [name for name, _ in done] == names
    assert all(outcome.ok for _, outcome in done), done
    history = _runs(ops_app)
    assert [run.job for run in history] == names
    assert {run.status for run in history} == {RunStatus.OK}
    assert all(run.worker == "test-worker" and run.finished_at is not None for run in history)
    backup = dict(done)[jobs.BACKUP].summary
    assert "restored and verified" in backup

    # The same moment again: nothing is due.
    assert worker.run_pass(NIGHT + timedelta(seconds=20)) == []
    # Ten minutes on: the five-minute and one-minute jobs only. The next night: the
    # nightly ones too.
    assert [n for n, _ in worker.run_pass(NIGHT + timedelta(minutes=10))] == [
        jobs.SPEND_HOLDS, jobs.WEBHOOKS]
    next_night = [n for n, _ in worker.run_pass(NIGHT + timedelta(days=1))]
    assert set(next_night) == set(names) - {jobs.SETTLEMENT}


def test_the_monthly_settlement_waits_for_its_day(ops_app: Flask) -> None:
    worker = Worker(ops_app, name="w")
    worker.run_pass(datetime(2026, 12, 2, 4, 30, tzinfo=UTC))  # the 2nd, 05:30 town time
    settled = [r for r in _runs(ops_app) if r.job == jobs.SETTLEMENT]
    assert len(settled) == 1
    # Later that month, nothing; on the 2nd of January, again.
    assert jobs.SETTLEMENT not in dict(worker.run_pass(datetime(2026, 12, 20, tzinfo=UTC)))
    assert jobs.SETTLEMENT in dict(worker.run_pass(datetime(2027, 1, 2, 4, 30, tzinfo=UTC)))


def test_a_failing_job_is_kept_shown_in_red_e_mailed_and_retried(
    ops_app: Flask, ops_mailbox: Mailbox, monkeypatch: object, tmp_path: Path
) -> None:
    with ops_app.extensions["loyalty.sessions"]() as session:
        scheme = make_scheme(session)
        admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
        admin_email = admin.email
    # The backup folder is a file now: the backup cannot be written.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    ops_app.config["BACKUP_DIR"] = str(blocked)
    worker = Worker(ops_app, name="w")
    now = utcnow()  # the page judges by the clock
    done = dict(worker.run_pass(now))
    assert not done[jobs.BACKUP].ok
    assert all(outcome.ok for name, outcome in done.items() if name != jobs.BACKUP)
    failed = [r for r in _runs(ops_app) if r.job == jobs.BACKUP]
    assert failed[0].status == RunStatus.FAILED and failed[0].error
    message = ops_mailbox.wait_for(admin_email)
    assert "Backup" in message["Subject"] and "failed" in message["Subject"]
    assert "mislukt" in message["Subject"]  # Dutch, French and English in one message
    assert "https://sparen.example.be/dashboard/operations" in message.get_content()

    client = ops_app.test_client()
    signed_in(client, admin_email)
    page = client.get("/dashboard/operations").get_data(as_text=True)
    assert "1 job needs attention." in page
    assert 'class="state state-failed">Failed<' in page

    # Retried half an hour later, not before; it succeeds once the folder is back.
    ops_app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    assert jobs.BACKUP not in dict(worker.run_pass(now + timedelta(minutes=10)))
    assert dict(worker.run_pass(now + timedelta(minutes=31)))[jobs.BACKUP].ok
    page = client.get("/dashboard/operations").get_data(as_text=True)
    assert "needs attention" not in page


def test_a_missed_job_is_e_mailed_once_and_shown(ops_app: Flask, ops_mailbox: Mailbox) -> None:
    with ops_app.extensions["loyalty.sessions"]() as session:
        scheme = make_scheme(session)
        admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN)
        admin_email = admin.email
    ops_app.config["OPS_EMAIL"] = "it@sint-gillis-waas.be"
    worker = Worker(ops_app, name="w")
    worker.run_pass(NIGHT)
    # The worker was down for two days: at the next look, the nightly jobs were missed.
    later = NIGHT + timedelta(days=2)
    with ops_app.app_context(), ops_app.extensions["loyalty.sessions"]() as session:
        zone = worker_module.zone_of(ops_app.config)
        states = {s.name: s.state for s in runs.states(session, jobs.catalogue(ops_app.config),
                                                       later, zone)}
    assert states[jobs.LEDGER_VERIFY] == "overdue" and states[jobs.SETTLEMENT] == "ok"
    before = len(ops_mailbox.messages)
    # Two workers look at once: each missed job is e-mailed once.
    for name in ("a", "b"):
        with ops_app.app_context():
            Worker(ops_app, name=name)._alert_missed(later, zone)
    missed = [m for m in ops_mailbox.messages[before:] if m["To"] == "it@sint-gillis-waas.be"]
    assert sorted(m["Subject"].split(" / ")[-1] for m in missed) == sorted(
        f"Lokaal Sparen: “{label}” did not run" for label in
        ("Fraud check", "Release the statistics of closed days", "Backup",
         "Point expiry and reminders", "Check the books", "Social tariff: this month's credit",
         "Weekly news e-mails")
    )
    assert not [m for m in ops_mailbox.messages[before:] if m["To"] == admin_email]


def test_of_two_workers_at_once_one_runs_each_job(ops_app: Flask, monkeypatch: object) -> None:
    started = threading.Barrier(2)
    calls: list[str] = []

    def slow(echo: object, now: datetime) -> Outcome:
        calls.append(threading.current_thread().name)
        threading.Event().wait(0.5)  # the other worker looks meanwhile
        return Outcome("done")

    tasks = {name: slow for name in worker_module.TASKS}
    original = worker_module.TASKS
    worker_module.TASKS = tasks
    try:
        def run(name: str) -> None:
            started.wait()
            Worker(ops_app, name=name).run_pass(NIGHT)

        threads = [threading.Thread(target=run, args=(n,), name=n) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        worker_module.TASKS = original
    history = _runs(ops_app)
    assert sorted(r.job for r in history) == sorted(j.name for j in jobs.catalogue(ops_app.config))
    assert len(calls) == len(history)


def test_a_lease_is_taken_by_one_of_many_at_once(ops_app: Flask) -> None:
    factory = ops_app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(6)
    won: list[str] = []

    def take(name: str) -> None:
        barrier.wait()
        with factory() as session, session.begin():
            if runs.take_lease(session, "backup", name, NIGHT, timedelta(minutes=2)):
                won.append(name)

    threads = [threading.Thread(target=take, args=(f"w{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    # Held: nobody else takes it; run out: another may.
    with factory() as session, session.begin():
        assert not runs.take_lease(session, "backup", "late", NIGHT + timedelta(minutes=1),
                                   timedelta(minutes=2))
    with factory() as session, session.begin():
        assert runs.take_lease(session, "backup", "late", NIGHT + timedelta(minutes=3),
                               timedelta(minutes=2))


def test_a_run_whose_worker_died_is_marked_interrupted_and_run_again(ops_app: Flask) -> None:
    factory = ops_app.extensions["loyalty.sessions"]
    with factory() as session, session.begin():
        assert runs.take_lease(session, jobs.LEDGER_VERIFY, "dead", NIGHT, timedelta(minutes=2))
        runs.start_run(session, jobs.LEDGER_VERIFY, "dead", NIGHT)
    worker = Worker(ops_app, name="alive")
    # While the dead worker's lease lasts, its job is left alone.
    assert jobs.LEDGER_VERIFY not in dict(worker.run_pass(NIGHT + timedelta(minutes=1)))
    done = dict(worker.run_pass(NIGHT + timedelta(minutes=3)))
    assert done[jobs.LEDGER_VERIFY].ok
    verify = [(r.worker, r.status) for r in _runs(ops_app) if r.job == jobs.LEDGER_VERIFY]
    assert verify == [("dead", RunStatus.INTERRUPTED), ("alive", RunStatus.OK)]


def test_the_worker_beats_and_stops_beating(ops_app: Flask) -> None:
    worker = Worker(ops_app, name="beating")
    worker.beat(NIGHT)
    worker.beat(NIGHT + timedelta(seconds=15))
    factory = ops_app.extensions["loyalty.sessions"]
    with factory() as session:
        beat = session.get_one(WorkerHeartbeat, "beating")
        assert beat.seen_at == NIGHT + timedelta(seconds=15)
        assert [w.worker for w in runs.workers_alive(session, NIGHT + timedelta(minutes=1))] == [
            "beating"]
        assert runs.workers_alive(session, NIGHT + timedelta(minutes=3)) == []


def test_a_month_runs_itself_without_a_word_to_the_admins(
    ops_app: Flask, ops_mailbox: Mailbox
) -> None:
    """The README's figure: no staff minutes for operations in a healthy month. The
    worker looks every two hours for 31 days (a sale now and then, a backup a
    night, the settlement on the 2nd): nothing fails, nothing is missed, nobody
    is e-mailed, and every job is green at the end."""
    with ops_app.extensions["loyalty.sessions"]() as session:
        scheme = make_scheme(session)
        admin_email = make_user(session, scheme, Role.MUNICIPALITY_ADMIN).email
    worker = Worker(ops_app, name="w")
    start = datetime(2026, 11, 28, tzinfo=UTC)
    ran: dict[str, int] = {}
    for step in range(31 * 12):
        for name, outcome in worker.run_pass(start + timedelta(hours=2 * step)):
            assert outcome.ok, (name, outcome.summary)
            ran[name] = ran.get(name, 0) + 1
    # At the first look every job is due (none ran before); then each at its times.
    assert ran[jobs.SETTLEMENT] == 2  # the first look, and 2 December
    assert ran[jobs.BACKUP] == ran[jobs.LEDGER_VERIFY] == ran[jobs.POINT_EXPIRY] == 32
    assert ran[jobs.SPEND_HOLDS] == 31 * 12
    assert not [m for m in ops_mailbox.messages if m["To"] == admin_email]
    end = start + timedelta(days=31)
    with ops_app.app_context(), ops_app.extensions["loyalty.sessions"]() as session:
        states = runs.states(session, jobs.catalogue(ops_app.config), end,
                             worker_module.zone_of(ops_app.config))
    assert {s.state for s in states} == {"ok"}
    backups = sorted(p.name for p in Path(ops_app.config["BACKUP_DIR"]).iterdir())
    # The rotation: the last 7 nights, the newest of the 2 weeks before them, and
    # the last of November (nothing else is left behind, no scratch database).
    assert backups == [f"lokaal-sparen-2026-{day}-0300.backup" for day in (
        "11-30", "12-13", "12-20", "12-22", "12-23", "12-24", "12-25", "12-26", "12-27",
        "12-28")]
