"""The Apple pass web service: registering a device, the updates list, the newest pass."""

from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import PassRegistration, Wallet, WalletPass
from loyalty.shoppers import erasure
from tests.factories import make_shop
from tests.wallet_pass_data import PASS_TYPE_ID, collect, open_pkpass

BASE = "/api/v1/apple-wallet/v1"
# A device of its own in each run: the test database is shared by the session.
DEVICE = uuid.uuid4().hex


def download(client: FlaskClient) -> dict[str, object]:
    """The wallet page's pass: its pass.json."""
    answer = client.get("/wallet/pass.pkpass")
    assert answer.status_code == 200
    return dict(json.loads(open_pkpass(answer.data)["pass.json"]))


def apple(token: object) -> dict[str, str]:
    return {"Authorization": f"ApplePass {token}"}


def test_a_device_registers_and_fetches_the_pass_when_the_balance_changed(
    pass_app: Flask, session: Session
) -> None:
    phone = pass_app.test_client()
    wallet_app = pass_app.test_client()  # the Wallet app: no cookie, only the pass's token
    shop = make_shop(session)
    first = collect(phone, shop, 1000)
    pass_json = download(phone)
    serial, token = pass_json["serialNumber"], pass_json["authenticationToken"]
    registration = f"{BASE}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{serial}"

    # A wrong token is refused everywhere a pass's token is needed.
    assert wallet_app.post(registration, json={"pushToken": "abc"},
                           headers=apple("0" * 64)).status_code == 401
    assert wallet_app.post(registration, json={"pushToken": "abc"}).status_code == 401
    assert wallet_app.get(f"{BASE}/passes/{PASS_TYPE_ID}/{serial}",
                          headers=apple(f"{token}x")).status_code == 401
    assert session.scalar(sa.select(sa.func.count()).select_from(PassRegistration)
                          .where(PassRegistration.device_library_id == DEVICE)) == 0
    # Another pass type is not ours.
    other = f"{BASE}/devices/{DEVICE}/registrations/pass.other/{serial}"
    assert wallet_app.post(other, json={"pushToken": "abc"},
                           headers=apple(token)).status_code == 404

    assert wallet_app.post(registration, json={"pushToken": "push-1"},
                           headers=apple(token)).status_code == 201
    assert wallet_app.post(registration, json={"pushToken": "push-2"},
                           headers=apple(token)).status_code == 200  # registered already
    session.rollback()  # a new read transaction: see what the requests committed
    stored = session.scalars(
        sa.select(PassRegistration).where(PassRegistration.device_library_id == DEVICE)
    ).all()
    assert [row.push_token for row in stored] == ["push-2"]

    updates = f"{BASE}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
    listed = wallet_app.get(updates)
    assert listed.status_code == 200 and listed.json is not None
    assert listed.json["serialNumbers"] == [serial]
    tag = listed.json["lastUpdated"]
    assert wallet_app.get(updates, query_string={"passesUpdatedSince": tag}).status_code == 204

    latest = f"{BASE}/passes/{PASS_TYPE_ID}/{serial}"
    answer = wallet_app.get(latest, headers=apple(token))
    assert answer.status_code == 200
    assert json.loads(open_pkpass(answer.data)["pass.json"])["storeCard"]["primaryFields"][0][
        "value"] == first
    modified = answer.headers["Last-Modified"]
    assert wallet_app.get(latest, headers={**apple(token), "If-Modified-Since": modified}
                          ).status_code == 304

    time.sleep(1.05)  # HTTP dates have whole seconds: the next change is in a later one
    second = collect(phone, shop, 2000)
    listed = wallet_app.get(updates, query_string={"passesUpdatedSince": tag})
    assert listed.status_code == 200 and listed.json is not None
    assert listed.json["serialNumbers"] == [serial] and int(listed.json["lastUpdated"]) > int(tag)
    answer = wallet_app.get(latest, headers={**apple(token), "If-Modified-Since": modified})
    assert answer.status_code == 200
    assert answer.headers["Last-Modified"] != modified
    newer = json.loads(open_pkpass(answer.data)["pass.json"])
    assert newer["serialNumber"] == serial and newer["authenticationToken"] == token
    assert newer["storeCard"]["primaryFields"][0]["value"] == first + second

    assert wallet_app.post(f"{BASE}/log", json={"logs": ["a pass problem"]}).status_code == 200
    assert wallet_app.delete(registration, headers=apple(token)).status_code == 200
    assert wallet_app.get(updates).status_code == 204
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(PassRegistration)
                          .where(PassRegistration.device_library_id == DEVICE)) == 0


def test_without_keys_the_web_service_knows_no_pass_type(client: FlaskClient) -> None:
    answer = client.get(f"{BASE}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}")
    assert answer.status_code == 404
    assert answer.json is not None and answer.json["error"]["code"] == "not_found"


def test_a_deleted_wallet_forgets_its_devices_and_its_pass(
    pass_app: Flask, session: Session
) -> None:
    phone, wallet_app = pass_app.test_client(), pass_app.test_client()
    collect(phone, make_shop(session), 1000)
    pass_json = download(phone)
    serial, token = pass_json["serialNumber"], pass_json["authenticationToken"]
    device = uuid.uuid4().hex
    assert wallet_app.post(f"{BASE}/devices/{device}/registrations/{PASS_TYPE_ID}/{serial}",
                           json={"pushToken": "push"}, headers=apple(token)).status_code == 201
    session.rollback()
    found = session.scalars(sa.select(WalletPass).where(WalletPass.serial == serial)).one()
    erasure.delete_wallet(session, session.get_one(Wallet, found.wallet_id), utcnow())
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(PassRegistration)
                          .where(PassRegistration.device_library_id == device)) == 0
    assert wallet_app.get(f"{BASE}/passes/{PASS_TYPE_ID}/{serial}",
                          headers=apple(token)).status_code == 404
    assert wallet_app.get(f"{BASE}/devices/{device}/registrations/{PASS_TYPE_ID}"
                          ).status_code == 204
