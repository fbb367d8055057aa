"""The nightly backup: written, proven by a restore into a scratch database and
``ledger verify``, rotated, and copied off-site to an S3-compatible bucket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from flask import Flask

from lokaal_sparen.worker import Worker
from loyalty.earning import claims
from loyalty.infra.backup_retention import name_for
from loyalty.infra.db import utcnow
from loyalty.models import Account
from loyalty.operations import jobs
from loyalty.shoppers import wallets
from tests.conftest import free_port
from tests.factories import make_merchant, make_scheme

NIGHT = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 02:00 in town, after the backup's time


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local S3 server (moto), with keys in boto3's own environment variables."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    for name, value in (("AWS_ACCESS_KEY_ID", "test-key"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "eu-west-1")):
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(
        Bucket="town-backups", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield endpoint
    server.stop()


def _sale(app: Flask) -> None:
    with app.extensions["loyalty.sessions"]() as session:
        scheme = make_scheme(session)
        shop = make_merchant(session, scheme)
        wallet = wallets.create_wallet(session, scheme).wallet
        sale = claims.create_claim(session, shop, 2500, utcnow())
        claims.collect(session, sale.claim, wallet, utcnow())
        session.commit()


def _backup_only(app: Flask, now: datetime) -> str:
    worker = Worker(app, name="w")
    with app.app_context():
        from lokaal_sparen import worker as module

        outcome = module.TASKS[jobs.BACKUP](worker.echo, now)
    assert outcome.ok, outcome.summary
    return outcome.summary


def test_each_backup_is_restored_and_verified_rotated_and_copied_off_site(
    ops_app: Flask, bucket: str
) -> None:
    _sale(ops_app)
    folder = Path(ops_app.config["BACKUP_DIR"])
    # Forty nights of earlier backups, here and in the bucket.
    s3 = boto3.client("s3", endpoint_url=bucket)
    for n in range(1, 41):
        name = name_for(datetime(2026, 12, 5, 2, 0) - timedelta(days=n))
        (folder / name).write_bytes(b"old")
        s3.put_object(Bucket="town-backups", Key=f"lokaal-sparen/{name}", Body=b"old")
    ops_app.config.update(BACKUP_S3_BUCKET="town-backups", BACKUP_S3_ENDPOINT_URL=bucket)

    summary = _backup_only(ops_app, NIGHT)
    tonight = "lokaal-sparen-2026-12-05-0200.backup"
    assert summary.startswith(f"backup {tonight} (")
    assert "restored and verified (1 ledger transactions)" in summary
    local = sorted(p.name for p in folder.iterdir() if p.name.startswith("lokaal-sparen-"))
    assert tonight in local and len(local) < 41
    remote = sorted(o["Key"].removeprefix("lokaal-sparen/") for o in
                    s3.list_objects_v2(Bucket="town-backups")["Contents"])
    assert remote == local  # the bucket keeps what the folder keeps
    copy = s3.get_object(Bucket="town-backups", Key=f"lokaal-sparen/{tonight}")["Body"].read()
    assert copy == (folder / tonight).read_bytes()
    assert f"copied to s3://town-backups/lokaal-sparen/{tonight}" in summary


def test_a_backup_whose_books_do_not_verify_is_a_failed_run(ops_app: Flask) -> None:
    _sale(ops_app)
    engine = ops_app.extensions["loyalty.engine"]
    with engine.begin() as conn:
        # Damage the books: a cached balance that the postings do not give.
        conn.execute(sa.update(Account).where(Account.id == sa.select(sa.func.max(Account.id))
                                              .scalar_subquery())
                     .values(balance=Account.balance + 1))
    done = dict(Worker(ops_app, name="w").run_pass(NIGHT))
    assert not done[jobs.BACKUP].ok
    assert "restored, but its ledger does not verify" in done[jobs.BACKUP].summary
    assert not done[jobs.LEDGER_VERIFY].ok
