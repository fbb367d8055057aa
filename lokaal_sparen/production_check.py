"""`loyalty check`: what is not ready for production, in plain words.

A town without an IT department runs this after installing or changing the
settings; each finding says what is wrong and what to do. Problems make the
command fail (exit 1); notes are advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from loyalty.infra.db import make_engine
from loyalty.infra.migrate import alembic_config
from loyalty.shoppers.wallet_passes import AppleSigner, GoogleIssuer
from loyalty.web.wallet_passes import APPLE_SETTINGS, GOOGLE_SETTINGS

# A pass type certificate lives a year: a month's warning to renew it in time.
CERTIFICATE_WARNING = timedelta(days=30)
# The nightly backup, with a few hours to spare for a slow night.
BACKUP_MAX_AGE = timedelta(hours=26)
MIN_SECRET_LENGTH = 32
WEAK_SECRETS = frozenset({"secret", "changeme", "dev", "development", "x", "test", "password"})


@dataclass(frozen=True)
class Finding:
    problem: bool  # False: a note
    text: str


def _public_url(config: Mapping[str, Any]) -> list[Finding]:
    url = config.get("PUBLIC_URL") or ""
    if not url:
        return [Finding(True, "PUBLIC_URL is not set: QR codes and e-mails need the site's "
                              "address, such as https://sparen.sint-gillis-waas.be.")]
    if not url.startswith("https://"):
        return [Finding(True, f"PUBLIC_URL ({url}) is not https: shoppers' phones and staff "
                              "passwords would travel unencrypted. Put Caddy in front "
                              "(scripts/install-server.sh does) and use https://.")]
    found = []
    if not config.get("TRUSTED_PROXIES"):
        found.append(Finding(False, "TRUSTED_PROXIES is 0: if a reverse proxy such as Caddy "
                                    "stands in front, set it to 1, or every client looks like "
                                    "the proxy to the sign-in throttle."))
    return found


def _secret_key(config: Mapping[str, Any]) -> list[Finding]:
    key = str(config.get("SECRET_KEY") or "")
    if (len(key) < MIN_SECRET_LENGTH or key.lower() in WEAK_SECRETS
            or len(set(key)) < MIN_SECRET_LENGTH // 3):
        return [Finding(True, "SECRET_KEY is weak: anyone who guesses it can forge sessions. "
                              "Leave it unset (a strong one is generated and kept in the "
                              "instance folder) or set 32 random characters or more.")]
    return []


def _mail(config: Mapping[str, Any]) -> list[Finding]:
    if not config.get("MAIL_SERVER"):
        return [Finding(True, "MAIL_SERVER is not set: sign-in links, password resets, "
                              "invitations and payment requests are printed on the console "
                              "instead of sent.")]
    return []


def _stripe(config: Mapping[str, Any]) -> list[Finding]:
    key, hook = config.get("STRIPE_SECRET_KEY"), config.get("STRIPE_WEBHOOK_SECRET")
    if key and not hook:
        return [Finding(True, "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: "
                              "shops could pay by Stripe, and no payment would ever be "
                              "credited.")]
    if hook and not key:
        return [Finding(True, "STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not: "
                              "set both, or neither (bank transfer only).")]
    if key and str(key).startswith("sk_test_"):
        return [Finding(True, "STRIPE_SECRET_KEY is a test key: no real payment goes "
                              "through.")]
    return []


def _missing(config: Mapping[str, Any], names: tuple[str, ...], app: str) -> list[Finding]:
    given = [name for name in names if config.get(name)]
    if not given or len(given) == len(names):
        return []
    missing = ", ".join(name for name in names if name not in given)
    return [Finding(True, f"{app} is half set up: {missing} missing. Its button stays hidden "
                          "until every one of its settings is there.")]


def _wallet_passes(config: Mapping[str, Any], now: datetime) -> list[Finding]:
    found = _missing(config, APPLE_SETTINGS, "Apple Wallet")
    found += _missing(config, GOOGLE_SETTINGS, "Google Wallet")
    if found:
        return found
    if all(config.get(name) for name in APPLE_SETTINGS):
        password = config.get("APPLE_PASS_KEY_PASSWORD")
        try:
            signer = AppleSigner.from_pem(
                config["APPLE_PASS_TYPE_ID"], config["APPLE_TEAM_ID"],
                Path(config["APPLE_PASS_CERT"]).read_bytes(),
                Path(config["APPLE_PASS_KEY"]).read_bytes(),
                Path(config["APPLE_WWDR_CERT"]).read_bytes(),
                password.encode() if password else None,
            )
        except (OSError, ValueError, TypeError) as error:
            found.append(Finding(True, "The Apple Wallet certificate, key or WWDR certificate "
                                       f"cannot be read ({error}): the button stays hidden."))
        else:
            ends = signer.certificate.not_valid_after_utc
            if ends < now + CERTIFICATE_WARNING:
                found.append(Finding(True, "The Apple pass type certificate ends on "
                                           f"{ends:%Y-%m-%d}: make a new one in the Apple "
                                           "developer account, or new passes will not open."))
    if all(config.get(name) for name in GOOGLE_SETTINGS):
        try:
            GoogleIssuer.from_key_file(
                str(config["GOOGLE_WALLET_ISSUER_ID"]),
                Path(config["GOOGLE_WALLET_SERVICE_ACCOUNT"]).read_text(),
            )
        except (OSError, ValueError) as error:
            found.append(Finding(True, "The Google Wallet service account key cannot be used "
                                       f"({error}): the button stays hidden."))
    return found


def _database(config: Mapping[str, Any]) -> list[Finding]:
    url = str(config["DATABASE_URL"])
    found = []
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as error:  # noqa: BLE001  (any failure is the finding)
        return [Finding(True, f"The database does not answer: {str(error).splitlines()[0]}")]
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if current is None:
        found.append(Finding(True, "The database has no tables yet: run loyalty db upgrade."))
    elif current != head:
        found.append(Finding(True, f"The database is at migration {current}, not {head}: "
                                   "run loyalty db upgrade."))
    if url.startswith("sqlite"):
        found.append(Finding(False, "The database is SQLite: right for one town on one "
                                    "server; a region of several towns wants PostgreSQL."))
    return found


def _backups(config: Mapping[str, Any], now: datetime) -> list[Finding]:
    folder = config.get("BACKUP_DIR")
    if not folder:
        return [Finding(True, "BACKUP_DIR is not set: there are no backups. Set it to a "
                              "folder; the worker then makes one every night.")]
    files = [p for p in Path(folder).glob("*") if p.is_file()] if Path(folder).is_dir() else []
    if not files:
        return [Finding(True, f"There is no backup in {folder} yet: run loyalty backup "
                              f"--to {folder}/first.backup.")]
    newest = max(files, key=lambda p: p.stat().st_mtime)
    age = now - datetime.fromtimestamp(newest.stat().st_mtime, tz=now.tzinfo)
    if age > BACKUP_MAX_AGE:
        hours = int(age.total_seconds() // 3600)
        return [Finding(True, f"The last backup ({newest.name}) is {hours} hours old: the "
                              "nightly backup did not run.")]
    return []


def _worker(config: Mapping[str, Any], now: datetime) -> list[Finding]:
    """Is a worker alive, and did every job run as it should?"""
    from zoneinfo import ZoneInfo

    from loyalty.infra.db import make_session_factory
    from loyalty.operations import jobs, runs

    engine = make_engine(str(config["DATABASE_URL"]))
    try:
        with make_session_factory(engine)() as session:
            beat = runs.last_heartbeat(session)
            zone = ZoneInfo(config.get("WORKER_TIMEZONE") or "Europe/Brussels")
            states = runs.states(session, jobs.catalogue(config), now, zone)
    except Exception:  # noqa: BLE001  (the database finding says why)
        return []
    finally:
        engine.dispose()
    found = []
    if beat is None or now - beat > runs.HEARTBEAT_FRESH:
        found.append(Finding(True, "No worker is running: expired points, reminders, the "
                                   "nightly backup and the monthly settlement do not happen. "
                                   "Start loyalty worker (the install script's "
                                   "lokaal-sparen-worker service)."))
    for state in states:
        if state.state == "failed":
            found.append(Finding(True, f"The job {state.name} failed at its last run: see the "
                                       "Operations page of the dashboard."))
        elif state.state == "overdue":
            found.append(Finding(True, f"The job {state.name} has not run since it was due: "
                                       "see the Operations page of the dashboard."))
    return found


def run_checks(config: Mapping[str, Any], now: datetime) -> list[Finding]:
    """Every finding, problems first."""
    found = [
        *_public_url(config), *_secret_key(config), *_mail(config), *_stripe(config),
        *_wallet_passes(config, now),
        *_database(config), *_backups(config, now), *_worker(config, now),
    ]
    return sorted(found, key=lambda f: not f.problem)
