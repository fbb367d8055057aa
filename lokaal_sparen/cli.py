"""The `loyalty` command line (also `flask --app loyalty ...`)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session, sessionmaker

from loyalty.errors import LoyaltyError
from loyalty.infra.db import utcnow
from loyalty.models import Role


@contextmanager
def transaction() -> Iterator[Session]:
    """One database transaction for a command: committed on success, else rolled back."""
    factory: sessionmaker[Session] = current_app.extensions["loyalty.sessions"]
    with factory() as session, session.begin():
        yield session


def _fail(error: LoyaltyError) -> NoReturn:
    raise click.ClickException(error.message) from error


def _scheme_slugs(slug: str | None) -> list[str]:
    """The scheme a command's --scheme names (an unknown one fails the command), or all."""
    from loyalty.models import Scheme
    from loyalty.town import schemes

    with transaction() as session:
        if slug:
            try:
                return [schemes.get_scheme(session, slug).slug]
            except LoyaltyError as error:
                _fail(error)
        return list(session.scalars(sa.select(Scheme.slug).order_by(Scheme.id)))


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
    from loyalty.infra.db import sqlite_begin_mode
    from loyalty.money import ledger

    # A read-only check: take no write lock on SQLite.
    token = sqlite_begin_mode.set("DEFERRED")
    try:
        with transaction() as session:
            report = ledger.verify(session)
    finally:
        sqlite_begin_mode.reset(token)
    for aid, cached, computed in report.balance_mismatches:
        click.echo(f"account {aid}: cached balance {cached}, postings say {computed}", err=True)
    for tid, asset, total in report.unbalanced_transactions:
        click.echo(f"transaction {tid}: {asset} postings sum to {total}, not 0", err=True)
    for pid, aid, asset in report.asset_mismatches:
        click.echo(f"posting {pid}: asset {asset} differs from account {aid}'s", err=True)
    for aid, bal in report.negative_accounts:
        click.echo(f"account {aid}: balance {bal} below zero", err=True)
    for tid, what in report.euro_mismatches:
        click.echo(f"transaction {tid}: euro legs ({what}) differ from points x point value",
                   err=True)
    for asset, total in report.asset_totals.items():
        if total:
            click.echo(f"asset {asset}: all balances sum to {total}, not 0", err=True)
    status = "OK" if report.ok else "FAILED"
    click.echo(
        f"ledger {status}: {report.accounts_checked} accounts, "
        f"{report.transactions_checked} transactions checked"
    )
    if not report.ok:
        sys.exit(1)


@click.group("redemptions", help="Spend codes and their holds.")
def redemptions_group() -> None:
    pass


@redemptions_group.command("expire")
@with_appcontext
def redemptions_expire() -> None:
    """Return the points of every expired, unconfirmed code to its wallet.

    Run it every few minutes from cron (the server also does it lazily).
    Example: loyalty redemptions expire
    """
    from loyalty.spending import redemptions

    with transaction() as session:
        released = redemptions.release_expired(session, utcnow())
    click.echo(f"released {released} expired holds")


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
    Safe to run twice. Run it daily from cron, e.g. 15 3 * * * loyalty expire

    Example: loyalty expire --scheme sint-gillis-waas
    """
    from zoneinfo import ZoneInfo

    from loyalty.shoppers import expiry
    from loyalty.town import schemes

    targets = _scheme_slugs(slug)
    totals = [0, 0, 0]
    for target in targets:
        with transaction() as session:
            scheme = schemes.get_scheme(session, target)
            now = utcnow()
            if as_of is not None:
                now = as_of.replace(tzinfo=ZoneInfo(scheme.timezone))
            run = expiry.expire_scheme(
                session, scheme, now, progress=_every_tenth(f"{scheme.slug}: wallets")
            )
        # After the commit: a reminder is only sent for a notice that was kept.
        for reminder in run.reminders:
            _send_expiry_reminder(reminder)
        totals[0] += run.points_expired
        totals[1] += run.wallets_expired
        totals[2] += len(run.reminders)
    click.echo(
        f"expired {totals[0]} points from {totals[1]} wallets in {len(targets)} schemes; "
        f"{totals[2]} reminders sent"
    )


def _every_tenth(label: str) -> Any:
    """A progress callback that prints at each further tenth of the work."""
    shown: set[int] = set()

    def progress(done: int, total: int) -> None:
        if done * 10 // total not in shown:
            shown.add(done * 10 // total)
            click.echo(f"  {label} {done}/{total}")

    return progress


def _send_expiry_reminder(reminder: Any) -> None:
    from flask_babel import force_locale, gettext

    from loyalty.infra import mail

    # Wallets keep no language; the schemes are Flemish towns, so Dutch.
    with force_locale("nl"):
        subject = gettext("Your Lokaal Sparen points expire soon")
        body = gettext(
            "Hello,\n\n%(points)s of your points expire by %(date)s. Spend them in any "
            "participating shop before then.\n\nLokaal Sparen",
            points=reminder.points,
            date=reminder.expires_by.strftime("%d/%m/%Y"),
        )
    try:
        mail.send(current_app.config, reminder.email, subject, body)
    except OSError as error:
        click.echo(f"  could not e-mail wallet {reminder.wallet_id}: {error}", err=True)


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
    Run it monthly from cron, e.g. on the 2nd at 03:00 for the month before:

    \b
    0 3 2 * * loyalty settle --scheme sint-gillis-waas --period $(date -d 'last month' +\\%Y-\\%m)

    Shops with a Stripe connected account are paid by Connect transfer when
    STRIPE_SECRET_KEY is set; the others by the SEPA file (download it from the
    dashboard). A rerun of a locked month changes nothing and prints the same
    summary (and retries transfers and payment requests that failed).
    Example: loyalty settle --scheme sint-gillis-waas --period 2026-11
    """
    from loyalty.money.settlement import monthly, periods
    from loyalty.town import schemes

    try:
        periods.parse_period(period)
        with transaction() as session:
            scheme = schemes.get_scheme(session, scheme_slug)
            due = monthly.next_period(session, scheme)
    except LoyaltyError as error:
        _fail(error)
        return
    months = [period]
    if due is not None and due < period:
        months = [due]
        while months[-1] < period:
            months.append(monthly.month_after(months[-1]))
        click.echo(f"{len(months)} months are due, from {due}: each is settled on its own")
    failures = sum(not _settle_month(scheme_slug, month) for month in months)
    if failures:
        sys.exit(1)


def _settle_month(scheme_slug: str, period: str) -> bool:
    """Settle one month and make its payouts and payment requests; False when
    something must be retried (the command exits non-zero)."""
    from loyalty.money.settlement import monthly, payment_requests, payouts, sepa
    from loyalty.town import schemes

    last: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        pct = 100 * done // total
        if last.get(stage) != pct // 10 or done == total:
            last[stage] = pct // 10
            click.echo(f"  {stage}: {done}/{total} ({pct}%)")

    try:
        with transaction() as session:
            scheme = schemes.get_scheme(session, scheme_slug)
            click.echo(f"settling {scheme.slug} {period} ...")
            stripe = payouts.stripe_settings(current_app.config)
            result = monthly.settle(
                session, scheme, period, utcnow(), stripe_payouts=stripe is not None,
                progress=progress,
            )
            locked = result.settlement
        # The period is locked (committed) before any money or e-mail goes out.
        with transaction() as session:
            transfers, transfers_failed = payouts.pay_by_stripe(session, locked, stripe)
        with transaction() as session:
            sent, failed = payment_requests.request_payments(
                session, locked, current_app.config, utcnow()
            )
        with transaction() as session:
            lines = monthly.lines_of(session, locked.id)
    except LoyaltyError as error:
        _fail(error)
        return False
    paid = sum(line.payout_cents for line in lines)
    owed = sum(line.collect_cents for line in lines)
    state = "locked now" if result.created else "already locked, unchanged"
    click.echo(
        f"{period} {state}: {len(lines)} shops, payouts EUR {sepa.euros(paid)} "
        f"(SEPA {locked.sepa_transfers} transfers, control sum EUR "
        f"{sepa.euros(locked.control_sum_cents)}), to collect EUR {sepa.euros(owed)}, "
        f"{transfers} Stripe transfers made"
        + (f", {transfers_failed} not made (run again)" if transfers_failed else "")
        + f", {sent} payment requests sent" + (f", {failed} failed" if failed else "")
    )
    return not (failed or transfers_failed)


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

    Run it daily from cron shortly after midnight (the thresholds are in
    loyalty/oversight/fraud.py), e.g. this crontab line:

    \b
    15 0 * * *  loyalty fraud check

    Example: loyalty fraud check --scheme sint-gillis-waas --date 2026-11-26
    """
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from loyalty.oversight import fraud
    from loyalty.town import schemes

    now = utcnow()
    created = found = 0
    chosen = _scheme_slugs(scheme_slug)
    try:
        for slug in chosen:
            # One transaction per scheme: a big scheme's check does not hold up the others.
            with transaction() as session:
                scheme = schemes.get_scheme(session, slug)
                when = (
                    day.date()
                    if day
                    else (now.astimezone(ZoneInfo(scheme.timezone)).date() - timedelta(days=1))
                )
                result = fraud.check(session, scheme, when, now)
                click.echo(
                    f"  {scheme.slug} {when}: {result.found} patterns, "
                    f"{len(result.created)} new flags"
                )
                for flag in result.created:
                    click.echo(f"    {flag.rule}: {flag.reason}")
                found += result.found
                created += len(result.created)
    except LoyaltyError as error:
        _fail(error)
    click.echo(f"fraud check: {len(chosen)} schemes, {found} patterns, {created} new flags")


@click.group("analytics", help="Statistics: the rollups behind the reports.")
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
    import time

    from loyalty.analytics import rollups
    from loyalty.town import schemes

    started = time.monotonic()
    slugs = _scheme_slugs(scheme_slug)
    folded = busy = 0
    for slug in slugs:
        shown: list[int] = [-1]

        def progress(done: int, total: int, slug: str = slug, shown: list[int] = shown) -> None:
            pct = 100 * done // max(total, 1)
            if pct // 10 != shown[0] or done == total:
                shown[0] = pct // 10
                click.echo(f"  {slug}: {done}/{total} events ({pct}%)")

        with transaction() as session:
            result = rollups.refresh(session, schemes.get_scheme(session, slug), progress=progress)
        folded += result.events
        if result.busy:
            busy += 1
            click.echo(f"  {slug}: another refresh is running; it folds these events")
    click.echo(
        f"analytics refreshed: {folded} new events folded for {len(slugs)} scheme(s)"
        f"{f', {busy} busy' if busy else ''} in {time.monotonic() - started:.1f} s"
    )


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
    run_gunicorn(SERVED_APP, host, port, 2)


COMMANDS = [
    db_group, create_scheme, create_user, ledger_group, redemptions_group, expire, settle,
    scheme_bank, connect_shop, fraud_group, analytics_group, serve, demo, backup, restore, check,
]


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
