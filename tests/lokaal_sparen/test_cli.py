"""The `loyalty` command line, run as a real process."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from lokaal_sparen.app import create_app
from loyalty.analytics import catalog, evaluation, periods, report_kit
from loyalty.earning import campaigns
from loyalty.infra.db import make_engine, utcnow
from loyalty.models import (
    AuditEntry,
    FootfallCount,
    FraudFlag,
    Merchant,
    MerchantStatus,
    PurchaseEvent,
    Redemption,
    Scheme,
    ShoppingCluster,
    StaffUser,
    Wallet,
)
from loyalty.money.settlement import monthly
from loyalty.shops import opening_hours
from tests.lokaal_sparen.helpers import run

COMMANDS = [
    ["demo"],
    ["db", "upgrade"],
    ["create-scheme"],
    ["create-user"],
    ["serve"],
    ["ledger", "verify"],
    ["redemptions", "expire"],
    ["webhooks", "deliver"],
    ["expire"],
    ["settle"],
    ["scheme-bank"],
    ["connect-shop"],
    ["fraud", "check"],
    ["analytics", "refresh"],
    ["analytics", "release"],
    ["backup"],
    ["restore"],
    ["check"],
]




def test_the_command_lists_its_commands(tmp_path: Path) -> None:
    result = run(["--help"], f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert command[0] in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str], app: Flask) -> None:
    # The same click commands as the process above, invoked in this one: a
    # process per command would start Python and build the app thirteen times.
    result = app.test_cli_runner().invoke(args=[*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output


def test_demo_loads_sint_gillis_waas_once(empty_database_url: str) -> None:
    first = run(["demo", "--no-serve"], empty_database_url)
    assert first.returncode == 0, first.stderr
    # Progress is shown: a year and some weeks in bulk, the last days through the domain.
    assert re.search(r"history: (\d+)/\1 \(100%\)", first.stdout), first.stdout
    assert "last days: 3/3 (100%)" in first.stdout
    summary = [line for line in first.stdout.splitlines() if line.startswith("demo loaded:")]
    assert len(summary) == 1
    # The closed days of that year are released at once, as the worker does each night.
    released = re.search(r"statistics released: (\d+) day\(s\)", first.stdout)
    assert released and int(released.group(1)) > 360, first.stdout
    assert "admin@sint-gillis-waas.example" in first.stdout  # logins printed at start
    # The admins and owners are enrolled in two-factor sign-in; the key and a
    # command that prints the current code are printed too, and they work.
    assert re.search(r"municipality_admin +admin@sint-gillis-waas\.example \+ code", first.stdout)
    assert re.search(r"municipality_analyst +analist@sint-gillis-waas\.example\n", first.stdout)
    key = re.search(r"the demo's key ([A-Z2-7]+)", first.stdout)
    command = re.search(r"^  (\S+ -c 'import pyotp.*)$", first.stdout, re.M)
    assert key and command, first.stdout
    printed = subprocess.run(command.group(1), shell=True, capture_output=True, text=True,  # noqa: S602
                             check=True).stdout.strip()
    assert re.fullmatch(r"\d{6}", printed), printed
    assert _token(
        empty_database_url, "admin@sint-gillis-waas.example", "lokaal-sparen-demo", printed
    ) == 201

    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            scheme = conn.execute(sa.select(Scheme.name, Scheme.villages)).one()
            shops = conn.execute(
                sa.select(Merchant.sector, Merchant.status, Merchant.town_service)
            ).all()
            users = conn.scalar(sa.select(sa.func.count()).select_from(StaffUser))
            # Shopping clusters with their shops and villages, and the centre's footfall.
            placed = conn.execute(sa.select(ShoppingCluster.name, sa.func.count(Merchant.id))
                                  .join(Merchant, Merchant.cluster_id == ShoppingCluster.id)
                                  .group_by(ShoppingCluster.name)).all()
            villages = set(conn.scalars(sa.select(Merchant.village)))
            counted = conn.scalar(sa.select(sa.func.count()).select_from(FootfallCount))
    finally:
        engine.dispose()
    assert scheme.name == "Sint-Gillis-Waas"
    assert scheme.villages == ["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"]
    approved = [s for s in shops if s.status == MerchantStatus.APPROVED]
    assert len(approved) == 22
    # The library and the swimming pool are the municipality's own services.
    assert sorted(s.sector for s in approved if s.town_service) == ["91.011", "93.110"]
    assert len({s.sector for s in approved}) >= 12  # shops across many sectors
    assert users and users >= 4
    assert dict(placed)["Centrum Sint-Gillis"] >= 5 and len(placed) == 4
    assert {"Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"} <= villages
    assert counted and counted > 2_000

    # The ended campaign is evaluated on its own release (loyalty.analytics.
    # campaign_release): each group's shopper-days per day, with noise of scale 1,
    # so the interval comes from the days' own spread. (On the daily released
    # cells alone, whose noise is larger than a group of shops' daily spending,
    # the answer would be "too noisy" or an interval over 100 points wide:
    # docs/privacy.md.) The running campaign has paid bonuses already.
    engine = make_engine(empty_database_url)
    try:
        with Session(engine) as session:
            found = {f.campaign.name: f for f in campaigns.list_campaigns(session, 1)}
            ended = found["Dubbele punten bij de buurtwinkel"]
            running = found["Winteractie: dubbele punten op vrije tijd"]
            try:
                estimate: evaluation.Estimate | None = evaluation.evaluate_campaign(
                    session, ended.campaign, utcnow()).estimate
            except evaluation.NotEvaluable as error:
                assert error.reason == "too_noisy", error.reason
                estimate = None
            market = next(
                e for e in campaigns.list_events(session, 1)
                if e.name == "Kerstmarkt" and e.ends_on < utcnow().date()
            )
            market_effect = evaluation.evaluate_event(session, market, utcnow()).estimate
    finally:
        engine.dispose()
    assert (ended.status, running.status) == ("ended", "active")
    assert ended.spent_cents > 0 and running.bonus_points_given > 0
    # Whether this one interval holds the 25% is a 95% matter (the demo's days move
    # with today's date); how often it does is tested over 30 simulated towns in
    # tests/unit/analytics/test_evaluation.py. Here: a usable estimate, not noise.
    assert estimate is not None and estimate.measure == "purchases", estimate
    assert estimate.ci_low_pct < estimate.effect_pct < estimate.ci_high_pct
    assert estimate.ci_high_pct - estimate.ci_low_pct < 100, estimate
    # The market's three days: noise of about 20% of the town's spending (standard
    # deviation), on the event days and on each week it is compared with.
    assert market_effect.ci_low_pct < market_effect.effect_pct < market_effect.ci_high_pct
    assert market_effect.ci_high_pct - market_effect.ci_low_pct > 40, market_effect

    # Every report shows something for the last full month on first start, but
    # the one per NACE class: a town of 20 shops has at most two per class, which
    # the three-shop rule hides (the page says so).
    engine = make_engine(empty_database_url)
    try:
        with Session(engine) as session:
            scheme_row = session.scalars(sa.select(Scheme)).one()
            period = periods.parse(None, None, report_kit.today_local(scheme_row))
            empty = [
                name for name in catalog.CATALOG
                if name != "sector-classes" and not any(
                    not row.suppressed
                    for row in catalog.build(session, scheme_row, name, period).rows
                )
            ]
    finally:
        engine.dispose()
    assert not empty, f"reports with nothing to show on the demo: {empty}"
    _assert_a_believable_year(empty_database_url)

    # A second start keeps the data: nothing loaded twice.
    second = run(["demo", "--no-serve"], empty_database_url)
    assert second.returncode == 0, second.stderr
    assert "demo loaded" not in second.stdout
    verify = run(["ledger", "verify"], empty_database_url)
    assert verify.returncode == 0 and "ledger OK" in verify.stdout, verify.stderr


def test_create_scheme_and_user(empty_database_url: str) -> None:
    assert run(["db", "upgrade"], empty_database_url).returncode == 0
    created = run(["create-scheme", "--slug", "beveren", "--name", "Beveren"], empty_database_url)
    assert created.returncode == 0, created.stderr
    again = run(["create-scheme", "--slug", "beveren", "--name", "Beveren"], empty_database_url)
    assert again.returncode != 0 and "exists" in again.stderr

    args = [
        "create-user",
        "--scheme",
        "beveren",
        "--role",
        "municipality_admin",
        "--email",
        "IT@Beveren.be",
    ]
    weak = run(args, empty_database_url, stdin="short\n")
    assert weak.returncode != 0 and "at least 10 characters" in weak.stderr
    user = run(args, empty_database_url, stdin="a-long-enough-password\n")
    assert user.returncode == 0, user.stderr
    assert "it@beveren.be" in user.stdout

    shopless = run(
        ["create-user", "--scheme", "beveren", "--role", "cashier", "--email", "k@beveren.be"],
        empty_database_url,
        stdin="a-long-enough-password\n",
    )
    assert shopless.returncode != 0 and "needs a shop" in shopless.stderr

    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            emails = conn.scalars(sa.select(StaffUser.email)).all()
    finally:
        engine.dispose()
    assert emails == ["it@beveren.be"]


def _token(url: str, email: str, password: str, code: str | None) -> int:
    """The status of a token request to an app on the database at ``url``."""
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "cli-test"})
    body = {"email": email, "password": password} | ({"otp": code} if code else {})
    try:
        return app.test_client().post("/api/v1/auth/token", json=body).status_code
    finally:
        app.extensions["loyalty.engine"].dispose()


def test_create_user_with_totp_prints_a_uri_that_gives_valid_codes(
    empty_database_url: str,
) -> None:
    assert run(["db", "upgrade"], empty_database_url).returncode == 0
    run(["create-scheme", "--slug", "beveren", "--name", "Beveren"], empty_database_url)
    created = run(
        ["create-user", "--scheme", "beveren", "--role", "municipality_admin",
         "--email", "it@beveren.be", "--totp"],
        empty_database_url, stdin="a-long-enough-password\n",
    )
    assert created.returncode == 0, created.stderr
    uri = re.search(r"otpauth://\S+", created.stdout)
    assert uri, created.stdout
    phone = pyotp.parse_uri(uri.group(0))
    assert isinstance(phone, pyotp.TOTP) and phone.name == "it@beveren.be"
    assert len(re.findall(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b",
                          created.stdout)) == 10
    password = "a-long-enough-password"
    assert _token(empty_database_url, "it@beveren.be", password, None) == 401
    assert _token(empty_database_url, "it@beveren.be", password, phone.now()) == 201
    # Without --totp an admin has to enrol on the web before the API gives a token.
    plain = run(
        ["create-user", "--scheme", "beveren", "--role", "municipality_admin",
         "--email", "it2@beveren.be"],
        empty_database_url, stdin="a-long-enough-password\n",
    )
    assert plain.returncode == 0 and "otpauth" not in plain.stdout
    assert _token(empty_database_url, "it2@beveren.be", password, None) == 403


def test_ledger_verify_on_an_empty_database(empty_database_url: str) -> None:
    assert run(["db", "upgrade"], empty_database_url).returncode == 0
    result = run(["ledger", "verify"], empty_database_url)
    assert result.returncode == 0
    assert "ledger OK: 0 accounts, 0 transactions checked" in result.stdout


def test_webhooks_deliver_on_an_empty_database(empty_database_url: str) -> None:
    assert run(["db", "upgrade"], empty_database_url).returncode == 0
    result = run(["webhooks", "deliver"], empty_database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("webhooks: 0 sent of 0 due")


def _assert_a_believable_year(database_url: str) -> None:
    """The demo's admin screens start full, and its town looks like a town."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            scheme = session.scalars(sa.select(Scheme)).one()
            today = report_kit.today_local(scheme)
            # The town's last month (from 23:00 UTC "now minus a day" would already
            # be the next day, and month, in Brussels).
            last_day = today.replace(day=1) - timedelta(days=1)
            last_month = f"{last_day.year:04d}-{last_day.month:02d}"
            settled = [s.period for s in monthly.settlements_of(session, scheme.id)]
            # Every month settled but the last one, which the admin may settle.
            assert settled and monthly.next_period(session, scheme) == last_month
            actions = set(session.scalars(sa.select(AuditEntry.action)))
            assert {"merchant.approve", "settlement.lock", "fraud.dismiss",
                    "sale.correct"} <= actions
            statuses = set(session.scalars(sa.select(FraudFlag.status)))
            assert {"open", "dismissed"} <= statuses
            # The next Christmas market (the second weekend of December) is this
            # year's until it is over, also when the demo is loaded in December.
            def market(year: int) -> date:
                first_day = date(year, 12, 1)
                return first_day + timedelta(days=(4 - first_day.weekday()) % 7 + 7)

            expected = market(today.year)
            if expected + timedelta(days=2) < today:
                expected = market(today.year + 1)
            markets = [e.starts_on for e in campaigns.list_events(session, scheme.id)
                       if e.name == "Kerstmarkt" and e.ends_on >= today]
            assert markets == [expected]
            # Spends of many sizes, shops of many sizes, not every wallet every month.
            spends = set(session.scalars(sa.select(Redemption.points)))
            assert len(spends) >= 5, spends
            turnover = session.execute(
                sa.select(PurchaseEvent.merchant_id, sa.func.sum(PurchaseEvent.amount_cents))
                .group_by(PurchaseEvent.merchant_id)
            ).all()
            amounts = sorted(int(a) for _m, a in turnover)
            assert amounts[-1] > 4 * amounts[0], amounts
            first = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
            active = session.scalar(
                sa.select(sa.func.count(sa.distinct(PurchaseEvent.shopper_key))).where(
                    PurchaseEvent.local_date.between(first.replace(day=1), first)
                )
            ) or 0
            wallets_ = session.scalar(sa.select(sa.func.count()).select_from(Wallet)) or 1
            assert 0.3 < active / wallets_ < 0.8, (active, wallets_)
            # Every shop's hours are in door notation: read in every language.
            for hours in session.scalars(sa.select(Merchant.opening_hours)
                                         .where(Merchant.status == "approved")):
                assert opening_hours.parse(hours) is not None, hours
    finally:
        engine.dispose()


def test_backup_and_restore_commands(tmp_path: Path, new_empty_database: Callable[[], str]) -> None:
    source = new_empty_database()
    assert run(["db", "upgrade"], source).returncode == 0
    made = run(["create-scheme", "--slug", "bron", "--name", "Bron"], source)
    assert made.returncode == 0, made.stderr
    target_file = tmp_path / "nightly" / "bron.backup"
    saved = run(["backup", "--to", str(target_file)], source)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip().splitlines()[-1].startswith(f"backup written: {target_file}")

    target = new_empty_database()
    restored = run(["restore", str(target_file)], target)
    assert restored.returncode == 0, restored.stderr
    summary = restored.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"restored {target_file}") and "1 schemes" in summary
    assert summary.endswith("ledger OK")
    again = run(["restore", str(target_file)], target)
    assert again.returncode != 0 and "--force" in again.stderr
    forced = run(["restore", str(target_file), "--force"], target)
    assert forced.returncode == 0, forced.stderr
