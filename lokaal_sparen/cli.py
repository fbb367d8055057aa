"""The `loyalty` command line (also `flask --app loyalty ...`)."""

from __future__ import annotations

import os
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from lokaal_sparen import tasks
from lokaal_sparen.tasks import Outcome, transaction
from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Role


def _fail(error: LoyaltyError) -> NoReturn:
    raise click.ClickException(error.message) from error


def _finish(outcome: Outcome) -> None:
    """Print a task's one-line summary; exit 1 when something must be looked at."""
    click.echo(outcome.summary)
    if not outcome.ok:
        sys.exit(1)


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every migration.

    Example: DATABASE_URL=postgresql://postgres@127.0.0.1/loyalty loyalty db upgrade
    """
    from loyalty.infra.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"])
    click.echo("database is at the latest revision")


@click.command("create-scheme")
@click.option("--slug", required=True, help="short name in URLs, e.g. sint-gillis-waas")
@click.option("--name", required=True, help="display name, e.g. Sint-Gillis-Waas")
@with_appcontext
def create_scheme(slug: str, name: str) -> None:
    """Create a municipality's savings scheme.

    Example: loyalty create-scheme --slug beveren --name Beveren
    """
    from loyalty.town import schemes

    try:
        with transaction() as session:
            scheme = schemes.create_scheme(session, slug, name)
            click.echo(f"created scheme {scheme.slug} (id {scheme.id})")
    except LoyaltyError as error:
        _fail(error)


@click.command("create-user")
@click.option("--scheme", "scheme_slug", required=True, help="scheme slug")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--email", required=True)
@click.option("--merchant", "merchant_id", type=int, help="shop id (shop roles only)")
@click.option(
    "--totp", is_flag=True,
    help="enrol in two-factor sign-in now; prints the otpauth:// URI and recovery codes once",
)
@with_appcontext
def create_user(
    scheme_slug: str, role: str, email: str, merchant_id: int | None, totp: bool
) -> None:
    """Create a staff user; the password is read from standard input.

    Admins and shop owners set up two-factor sign-in at their first sign-in;
    with --totp it is set up at once (for scripts of the API: compute the
    token call's "otp" from the printed URI).

    Example: echo 'a-long-password' | loyalty create-user --scheme sint-gillis-waas
    --role municipality_admin --email it@sint-gillis-waas.be --totp
    """
    from loyalty.access import staff
    from loyalty.access import totp as two_factor
    from loyalty.models import Merchant
    from loyalty.town import schemes

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        with transaction() as session:
            scheme = schemes.get_scheme(session, scheme_slug)
            merchant = session.get(Merchant, merchant_id) if merchant_id else None
            if merchant_id and merchant is None:
                raise click.ClickException(f"no shop with id {merchant_id}")
            user = staff.create_user(
                session, scheme, email=email, password=password, role=Role(role),
                merchant=merchant,
            )
            click.echo(f"created {user.role} {user.email} (id {user.id})")
            if totp:
                enrolment = two_factor.enrol(session, user, utcnow())
                click.echo("two-factor sign-in set up; shown only now, keep them safe:")
                click.echo(f"  authenticator URI: {enrolment.uri}")
                click.echo("  recovery codes: " + " ".join(enrolment.recovery_codes))
    except LoyaltyError as error:
        _fail(error)


@click.group("ledger", help="The points ledger.")
def ledger_group() -> None:
    pass


@ledger_group.command("verify")
@with_appcontext
def ledger_verify() -> None:
    """Recompute every balance, reconcile euros with points; exit 1 on any mismatch.

    Example: loyalty ledger verify
    """
    _finish(tasks.verify_ledger(lambda line: click.echo(line, err=True), utcnow()))


@click.group("redemptions", help="Spend codes and their holds.")
def redemptions_group() -> None:
    pass


@redemptions_group.command("expire")
@with_appcontext
def redemptions_expire() -> None:
    """Return the points of every expired, unconfirmed code to its wallet.

    `loyalty worker` runs it every 5 minutes (the server also does it lazily).
    Example: loyalty redemptions expire
    """
    _finish(tasks.release_spend_holds(click.echo, utcnow()))


@click.group("webhooks", help="The shops' webhooks.")
def webhooks_group() -> None:
    pass


@webhooks_group.command("deliver")
@with_appcontext
def webhooks_deliver() -> None:
    """Send the due webhook deliveries now (signed; failures retried with backoff).

    `loyalty worker` runs it every minute; running it beside the worker is safe
    (each delivery is taken by one sender). Example: loyalty webhooks deliver
    """
    _finish(tasks.deliver_webhooks(click.echo, utcnow()))


@click.command("expire")
@click.option("--scheme", "slug", help="Only this scheme (slug); default: every scheme.")
@click.option(
    "--date",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Run as of the start of this day (scheme time) instead of now.",
)
@with_appcontext
def expire(slug: str | None, as_of: Any) -> None:
    """Expire points older than the scheme's validity (oldest first) and remind shoppers by e-mail.

    Points go to breakage with their euro value. Shoppers with an e-mail
    address hear 30 days ahead that points will expire (once a month at most).
    Safe to run twice. `loyalty worker` runs it daily at 02:15.

    Example: loyalty expire --scheme sint-gillis-waas
    """
    try:
        _finish(tasks.expire_points(click.echo, utcnow(), slug, as_of))
    except LoyaltyError as error:
        _fail(error)


@click.command("settle")
@click.option("--scheme", "scheme_slug", required=True, help="scheme slug")
@click.option("--period", required=True, help="the last month to settle, e.g. 2026-11")
@with_appcontext
def settle(scheme_slug: str, period: str) -> None:
    """Settle every month due up to a month: lock each shop's net position, post
    fees, prepaid money applied and payouts, write the SEPA file, and ask shops
    that owe to pay.

    Months are settled one by one, in order, from the scheme's first activity:
    if earlier months are still open, each is settled first, on its own.
    `loyalty worker` settles last month of every scheme on the month's
    SETTLEMENT_DAY (default the 2nd) at 04:00; run it by hand to settle earlier.

    Shops with a Stripe connected account are paid by Connect transfer when
    STRIPE_SECRET_KEY is set; the others by the SEPA file (download it from the
    dashboard). A rerun of a locked month changes nothing and prints the same
    summary (and retries transfers and payment requests that failed).
    Example: loyalty settle --scheme sint-gillis-waas --period 2026-11
    """
    try:
        _finish(tasks.settle_months(click.echo, utcnow(), scheme_slug, period))
    except LoyaltyError as error:
        _fail(error)


@click.command("backup")
@click.option("--to", "target", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the backup file to write")
@with_appcontext
def backup(target: Path) -> None:
    """Write a consistent backup of the whole database to a file, while the server runs.

    SQLite: the online backup API; PostgreSQL: pg_dump's custom format.
    Example: loyalty backup --to /var/backups/lokaal-sparen/2026-12-05.backup
    """
    from loyalty.infra import backup as backups

    started = time.monotonic()
    click.echo(f"backing up the database to {target} ...")
    try:
        info = backups.backup(current_app.config["DATABASE_URL"], target)
    except LoyaltyError as error:
        _fail(error)
    click.echo(f"backup written: {info.path} ({info.kind}, {info.size / 1e6:.1f} MB) in "
               f"{time.monotonic() - started:.1f} s")


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace a database that holds data")
@with_appcontext
def restore(source: Path, force: bool) -> None:
    """Restore a backup into the database of DATABASE_URL, then verify its ledger.

    The database must be empty (newly created, or only migrated) unless --force
    is given. Stop the server first.
    Example: loyalty restore /var/backups/lokaal-sparen/2026-12-05.backup
    """
    from loyalty.infra import backup as backups
    from loyalty.models import LedgerTransaction, Scheme
    from loyalty.money import ledger

    url = current_app.config["DATABASE_URL"]
    click.echo(f"restoring {source} ...")
    try:
        kind = backups.restore(url, source, force=force)
    except LoyaltyError as error:
        _fail(error)
    click.echo("  restored; verifying the ledger ...")
    with transaction() as session:
        schemes = session.scalar(sa.select(sa.func.count()).select_from(Scheme))
        transactions = session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
        report = ledger.verify(session)
    state = "ledger OK" if report.ok else "LEDGER MISMATCH (run loyalty ledger verify)"
    click.echo(f"restored {source} ({kind}): {schemes} schemes, {transactions} ledger "
               f"transactions; {state}")
    if not report.ok:
        sys.exit(1)


@click.command("check")
@with_appcontext
def check() -> None:
    """Say in plain words what is not ready for production; exit 1 if anything is.

    Looks at PUBLIC_URL (https), SECRET_KEY, the mail server, Stripe's two keys,
    the database and its migrations, and the age of the last backup in BACKUP_DIR.
    Example: loyalty check
    """
    from datetime import UTC, datetime

    from lokaal_sparen.production_check import run_checks

    findings = run_checks(current_app.config, datetime.now(UTC))
    for finding in findings:
        click.echo(f"{'PROBLEM' if finding.problem else 'note   '}  {finding.text}")
    problems = sum(f.problem for f in findings)
    notes = len(findings) - problems
    if problems:
        click.echo(f"{problems} problems and {notes} notes: not ready for production yet")
        sys.exit(1)
    click.echo(f"ready for production ({notes} notes)")


@click.command("worker")
@click.option("--once", is_flag=True, help="run the jobs that are due now, then stop")
@click.option("--tick", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
              help="seconds between looks at the schedule")
@with_appcontext
def worker(once: bool, tick: float) -> None:
    """Run every scheduled job on its schedule, until stopped (SIGTERM or Ctrl+C).

    Spend holds every 5 minutes, reports every 15, then nightly (town time):
    fraud check 00:15, backup 01:30 (with BACKUP_DIR), point expiry 02:15,
    ledger check 03:00, and the monthly settlement on SETTLEMENT_DAY at 04:00.
    Run one on every server if you like: each job runs on one at a time. The
    dashboard's Operations page shows every run; failures are e-mailed.
    Example: loyalty worker
    """
    from lokaal_sparen.worker import Worker

    runner = Worker(current_app._get_current_object(),  # type: ignore[attr-defined]
                    echo=click.echo)
    if once:
        done = runner.run_pass()
        failed = [name for name, outcome in done if not outcome.ok]
        click.echo(f"{len(done)} jobs run, {len(failed)} failed"
                   + (f" ({', '.join(failed)})" if failed else ""))
        if failed:
            sys.exit(1)
        return
    runner.run(tick)


@click.command("connect-shop")
@click.option("--shop", "merchant_id", required=True, type=int, help="shop id")
@click.option("--account", required=True, help="its Stripe connected account, acct_...")
@with_appcontext
def connect_shop(merchant_id: int, account: str) -> None:
    """Pay a shop's settlements by Stripe Connect transfer to its connected account.

    Example: loyalty connect-shop --shop 7 --account acct_1Nv0FGQ9RKHgCVdK
    """
    from loyalty.models import Merchant
    from loyalty.money.settlement import bank_accounts

    try:
        with transaction() as session:
            merchant = session.get(Merchant, merchant_id)
            if merchant is None:
                raise click.ClickException(f"no shop with id {merchant_id}")
            bank_accounts.set_stripe_account(session, merchant, account)
            click.echo(f"{merchant.name} is paid by Stripe to {merchant.stripe_account_id}")
    except LoyaltyError as error:
        _fail(error)


@click.command("scheme-bank")
@click.option("--scheme", "scheme_slug", required=True, help="scheme slug")
@click.option("--iban", required=True, help="the municipality's IBAN")
@click.option("--bic", default="", help="its BIC (found from the IBAN when left out)")
@click.option("--monthly-fee-cents", type=click.IntRange(0), default=None,
              help="fee charged to every approved shop at each settlement")
@with_appcontext
def scheme_bank(scheme_slug: str, iban: str, bic: str, monthly_fee_cents: int | None) -> None:
    """Set the bank account that SEPA payouts leave from (and the monthly shop fee).

    Example: loyalty scheme-bank --scheme sint-gillis-waas --iban BE71096123456769
    --bic GKCCBEBB --monthly-fee-cents 500
    """
    from loyalty.money.settlement import bank_accounts, sepa
    from loyalty.town import schemes

    try:
        with transaction() as session:
            scheme = schemes.get_scheme(session, scheme_slug)
            bank_accounts.set_scheme_bank_account(session, scheme, iban, bic)
            if monthly_fee_cents is not None:
                scheme.monthly_fee_cents = monthly_fee_cents
            click.echo(f"{scheme.slug}: pays from {scheme.iban} ({scheme.bic}), "
                       f"monthly fee {sepa.euros(scheme.monthly_fee_cents)} EUR")
    except LoyaltyError as error:
        _fail(error)


@click.group("fraud", help="Fraud flags for the municipality dashboard.")
def fraud_group() -> None:
    pass


@fraud_group.command("check")
@click.option("--scheme", "scheme_slug", help="one scheme's slug (default: every scheme)")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="the day to check, YYYY-MM-DD (default: yesterday in each scheme's time zone)",
)
@with_appcontext
def fraud_check(scheme_slug: str | None, day: Any) -> None:
    """Flag the day's suspicious patterns; running it again adds no flag twice.

    `loyalty worker` runs it daily at 00:15 for the day before (the thresholds
    are in loyalty/oversight/fraud.py).

    Example: loyalty fraud check --scheme sint-gillis-waas --date 2026-11-26
    """
    try:
        _finish(tasks.check_fraud(click.echo, utcnow(), scheme_slug, day.date() if day else None))
    except LoyaltyError as error:
        _fail(error)


@click.group("analytics", help="Statistics: the rollups behind the reports, and the "
             "released (noisy) tables.")
def analytics_group() -> None:
    pass


@analytics_group.command("refresh")
@click.option("--scheme", "scheme_slug", help="only this scheme (slug); all schemes without it")
@with_appcontext
def analytics_refresh(scheme_slug: str | None) -> None:
    """Fold new purchase events into the report rollups. Idempotent and safe to run
    while the server runs (the server also does it before a report is read).

    Example: loyalty analytics refresh --scheme sint-gillis-waas
    """
    started = time.monotonic()
    try:
        outcome = tasks.refresh_analytics(click.echo, utcnow(), scheme_slug)
    except LoyaltyError as error:
        _fail(error)
    _finish(Outcome(f"{outcome.summary} in {time.monotonic() - started:.1f} s", outcome.ok))


@analytics_group.command("release")
@click.option("--scheme", "scheme_slug", help="only this scheme (slug); all schemes without it")
@with_appcontext
def analytics_release(scheme_slug: str | None) -> None:
    """Release the statistics of every closed day not released yet: each day's cells
    once, with bounded contributions and calibrated noise (docs/privacy.md); then
    the shopper statistics of every closed week, month, quarter and year. A
    released day or period never changes; running it again releases only newer ones.

    Example: loyalty analytics release --scheme sint-gillis-waas
    """
    started = time.monotonic()
    try:
        outcome = tasks.release_statistics(click.echo, utcnow(), scheme_slug)
    except LoyaltyError as error:
        _fail(error)
    _finish(Outcome(f"{outcome.summary} in {time.monotonic() - started:.1f} s", outcome.ok))


def run_gunicorn(app: str | Callable[[], Flask], host: str, port: int, workers: int) -> None:
    """Serve ``app`` with gunicorn: a "module:factory()" name, as gunicorn itself
    takes it, or a factory (the benchmarks' floor app)."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.util import import_app

    # Each worker writes its metrics into this folder (loyalty.web.health), fresh
    # for every start so that no dead worker's figures linger.
    metrics_dir = Path(tempfile.mkdtemp(prefix="lokaal-sparen-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    def child_exit(_server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # The app writes its own access log (ACCESS_LOG; loyalty.web.request_log):
            # JSON lines with the request id, properly escaped.
            self.cfg.set("errorlog", "-")
            self.cfg.set("child_exit", child_exit)

        def load(self) -> Flask:
            # Each worker builds its own app and engine after the fork, so no
            # database connection is shared between processes.
            return import_app(app) if isinstance(app, str) else app()

    Server().run()


# By name, as gunicorn loads an app: the commands are part of the app it builds.
SERVED_APP = "lokaal_sparen.wsgi:served_app()"


def _require_public_url() -> None:
    """Refuse to serve without the site's own address: links in e-mails and QR
    codes are built from it, and requests for any other host are refused."""
    parts = urlsplit(os.environ.get("PUBLIC_URL", ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.ClickException(
            "PUBLIC_URL must be set to the address people use, e.g. "
            "PUBLIC_URL=https://sparen.example.be"
        )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@with_appcontext
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn and several worker processes.

    Example: PUBLIC_URL=https://sparen.example.be loyalty serve --host 0.0.0.0 --workers 4
    """
    _require_public_url()
    run_gunicorn(SERVED_APP, host, port, workers)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="load the data and stop")
@with_appcontext
def demo(host: str, port: int, no_serve: bool) -> None:
    """Migrate, load the Sint-Gillis-Waas demo if the database is empty, and serve.

    Example: loyalty demo --port 8000
    """
    from lokaal_sparen.demo.sint_gillis_waas import DEMO_PASSWORD, DEMO_TOTP_SECRET, load_demo
    from loyalty.infra.migrate import upgrade
    from loyalty.models import Scheme, StaffUser

    click.echo("migrating the database ...")
    upgrade(current_app.config["DATABASE_URL"])
    with transaction() as session:
        empty = session.scalar(sa.select(sa.func.count()).select_from(Scheme)) == 0
    if empty:
        last: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            pct = 100 * done // total
            if last.get(stage) != pct // 10 or done == total:
                last[stage] = pct // 10
                click.echo(f"  {stage}: {done}/{total} ({pct}%)")

        click.echo("loading the Sint-Gillis-Waas demo ...")
        with transaction() as session:
            summary = load_demo(session, utcnow(), progress=progress)
        click.echo(
            f"demo loaded: {summary.shops} shops, {summary.wallets} wallets, "
            f"{summary.earns} sales with points, {summary.spends} spends"
        )
        # Fold the demo's sales into the report rollups now, not on the first report.
        from loyalty.analytics import rollups

        with transaction() as session:
            for scheme in session.scalars(sa.select(Scheme)):
                folded = rollups.refresh(session, scheme).events
                click.echo(f"  rollups: {folded} purchase events of {scheme.slug} folded in")
        # And release its closed days, as the worker does each night.
        click.echo(f"  {tasks.release_statistics(click.echo, utcnow()).summary}")
    with transaction() as session:
        logins = session.execute(
            sa.select(StaffUser.role, StaffUser.email, StaffUser.totp_secret)
            .order_by(StaffUser.id)
        ).all()
    click.echo(f"\nStaff logins (password: {DEMO_PASSWORD}):")
    for role, email, secret in logins:
        code = " + code" if secret == DEMO_TOTP_SECRET else ""
        click.echo(f"  {role:22} {email}{code}")
    click.echo(
        f"\n+ code: two-factor sign-in with the demo's key {DEMO_TOTP_SECRET}: add it to an "
        "authenticator app, or print the current code with\n"
        f"  {sys.executable} -c 'import pyotp; print(pyotp.TOTP(\"{DEMO_TOTP_SECRET}\").now())'"
    )
    if no_serve:
        return
    # The workers read it from the environment when they build their app.
    public = os.environ.setdefault("PUBLIC_URL", f"http://{host}:{port}")
    _require_public_url()
    click.echo(f"\nLokaal Sparen runs on {public}/  (Ctrl+C stops it)")
    # The scheduled jobs run beside it, as in production; last month is left for
    # the visitor to settle on the dashboard (WORKER_SKIP), as the demo data does.
    # Set for the web server's workers too: its Operations page lists the same jobs.
    os.environ.setdefault("WORKER_SKIP", "settlement")
    jobs = subprocess.Popen(  # noqa: S603  # nosec B603
        [sys.executable, "-m", "lokaal_sparen", "worker"], env=dict(os.environ)
    )
    try:
        run_gunicorn(SERVED_APP, host, port, 2)
    finally:
        jobs.terminate()
        jobs.wait(timeout=60)


COMMANDS = [
    db_group, create_scheme, create_user, ledger_group, redemptions_group, webhooks_group,
    expire, settle,
    scheme_bank, connect_shop, fraud_group, analytics_group, serve, demo, backup, restore, check,
    worker,
]


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
