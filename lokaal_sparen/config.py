"""Configuration from the environment (and ``.env``, loaded by the CLI)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def database_url(instance_path: str) -> str:
    """DATABASE_URL, or SQLite in the instance folder."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{Path(instance_path) / 'loyalty.db'}"


def secret_key(instance_path: str) -> str:
    """SECRET_KEY, or one generated once and kept in the instance folder.

    Kept on disk so that every worker process and every restart signs with
    the same key (wallet cookies must survive a restart).
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting at once cannot both write a key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def from_environment(instance_path: str) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url(instance_path),
        # A streaming replica that reports read from (loyalty.web.replica); never written.
        "DATABASE_REPLICA_URL": os.environ.get("DATABASE_REPLICA_URL") or None,
        "SECRET_KEY": secret_key(instance_path),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "").rstrip("/") or None,
        # Secure cookies when served behind HTTPS (PUBLIC_URL says so).
        "SESSION_COOKIE_SECURE": os.environ.get("PUBLIC_URL", "").startswith("https://"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Outgoing mail; without MAIL_SERVER messages are printed to the console.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT") or 25),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "").lower() in ("1", "true", "yes"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "Lokaal Sparen <noreply@lokaalsparen.invalid>",
        # Web Push for the wallet (loyalty.infra.webpush); without all three the
        # wallet offers no push notifications (the e-mail digest still works).
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY") or None,
        "VAPID_PUBLIC_KEY": os.environ.get("VAPID_PUBLIC_KEY") or None,
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT") or None,
        # Shop funding by Stripe Checkout (card, Bancontact). Without the secret
        # key the portal offers bank transfer only (the demo default); without
        # the webhook secret no Stripe payment is ever credited.
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
        # Tests only: where the stripe library sends its requests (a local stub).
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", "").rstrip("/") or None,
        # How many reverse proxies stand in front (Caddy: 1): their X-Forwarded-*
        # headers then give the client's address and scheme. 0 (the default)
        # trusts none, so a client cannot pick the address the throttle sees.
        "TRUSTED_PROXIES": _count("TRUSTED_PROXIES"),
        # Where the worker writes the nightly backups (loyalty check looks there).
        "BACKUP_DIR": os.environ.get("BACKUP_DIR") or None,
        # An S3-compatible bucket for a copy of each backup off the server (its keys
        # in boto3's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
        "BACKUP_S3_BUCKET": os.environ.get("BACKUP_S3_BUCKET") or None,
        "BACKUP_S3_ENDPOINT_URL": os.environ.get("BACKUP_S3_ENDPOINT_URL") or None,
        "BACKUP_S3_PREFIX": os.environ.get("BACKUP_S3_PREFIX") or None,
        # The scheduled jobs (loyalty worker): the day of the month the last month
        # is settled, the town's clock, jobs left to people, and who hears of failures.
        "SETTLEMENT_DAY": _day("SETTLEMENT_DAY"),
        "WORKER_TIMEZONE": os.environ.get("WORKER_TIMEZONE") or "Europe/Brussels",
        "WORKER_SKIP": os.environ.get("WORKER_SKIP") or "",
        "OPS_EMAIL": os.environ.get("OPS_EMAIL") or "",
        # How long a job stays a dead worker's before another worker may run it.
        "WORKER_LEASE_SECONDS": _count("WORKER_LEASE_SECONDS", "seconds") or 120,
        # Lets a monitor on another machine read /metrics (Authorization: Bearer ...).
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        # Wallet passes. Apple Wallet: the pass type id and team id of the Apple
        # developer account, the pass type certificate and its key (PEM files, the
        # key perhaps with a password) and Apple's WWDR intermediate certificate.
        # Google Wallet: the issuer id and the service account's JSON key file.
        # Without all of one app's settings its button is not shown.
        "APPLE_PASS_TYPE_ID": os.environ.get("APPLE_PASS_TYPE_ID") or None,
        "APPLE_TEAM_ID": os.environ.get("APPLE_TEAM_ID") or None,
        "APPLE_PASS_CERT": os.environ.get("APPLE_PASS_CERT") or None,
        "APPLE_PASS_KEY": os.environ.get("APPLE_PASS_KEY") or None,
        "APPLE_PASS_KEY_PASSWORD": os.environ.get("APPLE_PASS_KEY_PASSWORD") or None,
        "APPLE_WWDR_CERT": os.environ.get("APPLE_WWDR_CERT") or None,
        "GOOGLE_WALLET_ISSUER_ID": os.environ.get("GOOGLE_WALLET_ISSUER_ID") or None,
        "GOOGLE_WALLET_SERVICE_ACCOUNT": os.environ.get("GOOGLE_WALLET_SERVICE_ACCOUNT") or None,
        # Shops' webhooks may go to http://localhost and private networks (a
        # receiver on the same machine or LAN); otherwise https to public addresses only.
        "WEBHOOKS_ALLOW_LOCAL": os.environ.get("WEBHOOKS_ALLOW_LOCAL", "").lower()
        in ("1", "true", "yes"),
        # A JSON line for every request (method, path, status, time, request id).
        "ACCESS_LOG": bool(os.environ.get("ACCESS_LOG")),
    }


def _day(name: str) -> int:
    value = os.environ.get(name, "").strip() or "2"
    if not value.isdigit() or not 1 <= int(value) <= 28:
        raise SystemExit(f"{name} must be a day of the month from 1 to 28, not {value!r}")
    return int(value)


def _count(name: str, meaning: str = "the proxies in front") -> int:
    value = os.environ.get(name, "").strip() or "0"
    if not value.isdigit():
        raise SystemExit(f"{name} must be a whole number ({meaning}), not {value!r}")
    return int(value)


def host_settings(public_url: str | None) -> dict[str, Any]:
    """Flask settings that tie the app to PUBLIC_URL's host.

    TRUSTED_HOSTS: a request with any other Host header gets 400, so nothing can
    be led to treat a forged host as ours. SERVER_NAME: Flask's test client (and
    url_for outside a request) use the public host too.
    """
    parts = urlsplit(public_url or "")
    if not parts.hostname:
        return {}
    return {
        # The machine itself too: a local monitor asks 127.0.0.1 for /healthz and
        # /metrics (every link is still built from PUBLIC_URL, never from Host).
        "TRUSTED_HOSTS": [parts.hostname, "127.0.0.1", "localhost", "::1"],
        "SERVER_NAME": parts.netloc,
    }
