"""The `loyalty` command line (also `flask --app loyalty ...`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.orm import Session, sessionmaker

from loyalty.db import utcnow
from loyalty.errors import LoyaltyError
from loyalty.models import Role


@contextmanager
def transaction() -> Iterator[Session]:
    """One database transaction for a command: committed on success, else rolled back."""
    factory: sessionmaker[Session] = current_app.extensions["loyalty.sessions"]
    with factory() as session, session.begin():
        yield session


def _fail(error: LoyaltyError) -> None:
    raise click.ClickException(error.message) from error


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every migration.

    Example: DATABASE_URL=postgresql://postgres@127.0.0.1/loyalty loyalty db upgrade
    """
    from loyalty.migrate import upgrade

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
    from loyalty import schemes

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
@with_appcontext
def create_user(scheme_slug: str, role: str, email: str, merchant_id: int | None) -> None:
    """Create a staff user; the password is read from standard input.

    Example: echo 'a-long-password' | loyalty create-user --scheme sint-gillis-waas
    --role municipality_admin --email it@sint-gillis-waas.be
    """
    from loyalty import schemes, staff
    from loyalty.models import Merchant

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
    except LoyaltyError as error:
        _fail(error)


@click.group("ledger", help="The points ledger.")
def ledger_group() -> None:
    pass


@ledger_group.command("verify")
@with_appcontext
def ledger_verify() -> None:
    """Recompute every balance from the postings; exit 1 on any mismatch.

    Example: loyalty ledger verify
    """
    from loyalty import ledger
    from loyalty.db import sqlite_begin_mode

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
    from loyalty import redemptions

    with transaction() as session:
        released = redemptions.release_expired(session, utcnow())
    click.echo(f"released {released} expired holds")


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

    from loyalty import schemes
    from loyalty.analytics import rollups
    from loyalty.models import Scheme

    started = time.monotonic()
    with transaction() as session:
        if scheme_slug:
            try:
                slugs = [schemes.get_scheme(session, scheme_slug).slug]
            except LoyaltyError as error:
                _fail(error)
        else:
            slugs = list(session.scalars(sa.select(Scheme.slug).order_by(Scheme.id)))
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


def _serve(app_factory: Any, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", os.environ.get("ACCESS_LOG"))
            self.cfg.set("errorlog", "-")

        def load(self) -> Flask:
            # Each worker builds its own app and engine after the fork, so no
            # database connection is shared between processes.
            return app_factory()

    Server().run()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@with_appcontext
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn and several worker processes.

    Example: DATABASE_URL=postgresql://loyalty@db/loyalty loyalty serve --host 0.0.0.0 --workers 4
    """
    from loyalty import create_app

    _serve(create_app, host, port, workers)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="load the data and stop")
@with_appcontext
def demo(host: str, port: int, no_serve: bool) -> None:
    """Migrate, load the Sint-Gillis-Waas demo if the database is empty, and serve.

    Example: loyalty demo --port 8000
    """
    from loyalty import create_app
    from loyalty.demo import DEMO_PASSWORD, load_demo
    from loyalty.migrate import upgrade
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
            sa.select(StaffUser.role, StaffUser.email).order_by(StaffUser.id)
        ).all()
    click.echo(f"\nStaff logins (password: {DEMO_PASSWORD}):")
    for role, email in logins:
        click.echo(f"  {role:22} {email}")
    if no_serve:
        return
    click.echo(f"\nLokaal Sparen runs on http://{host}:{port}/  (Ctrl+C stops it)")
    _serve(create_app, host, port, 2)


COMMANDS = [
    db_group, create_scheme, create_user, ledger_group, redemptions_group, analytics_group, serve,
    demo,
]


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app() -> Flask:
    from loyalty import create_app

    return create_app()


def main() -> None:
    cli = FlaskGroup(
        name="loyalty",
        create_app=_create_app,
        add_version_option=False,
        add_default_commands=False,
        help="Lokaal Sparen: local loyalty points for Flemish municipalities.\n\n"
        "Example: loyalty demo",
    )
    cli.main(prog_name="loyalty")
