"""A wallet's pass, downloaded by several tabs at once, and a device registering
for it several times at once: one serial, one registration."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections import Counter

import requests
import sqlalchemy as sa
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from loyalty.models import PassRegistration, WalletPass
from loyalty.shoppers.wallet_passes import authentication_token
from tests.conftest import LiveServer, count
from tests.factories import make_scheme, make_wallet_token
from tests.race.helpers import TIMEOUT, Answer, race, wallet_of
from tests.wallet_pass_data import PASS_TYPE_ID

TABS = 8


def test_first_downloads_make_one_serial_and_a_device_registers_once(
    pass_server: LiveServer, db: Session
) -> None:
    scheme = make_scheme(db)
    token = make_wallet_token(db, scheme)
    wallet_id = wallet_of(db, token).id
    db.commit()
    cookie = URLSafeSerializer("live-server-secret", salt="wallet-cookie").dumps(
        {"w": {str(scheme.id): token}, "c": str(scheme.id)}
    )

    def download() -> Answer:
        response = requests.get(pass_server.url + "/wallet/pass.pkpass",
                                cookies={"ls_wallet": cookie}, timeout=TIMEOUT)
        if response.status_code != 200:
            return Answer(response.status_code, response.text, False)
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            serial = json.loads(archive.read("pass.json"))["serialNumber"]
        return Answer(200, serial, False)

    answers = race([download for _ in range(TABS)])
    assert Counter(a.status for a in answers) == {200: TABS}, answers
    serials = {a.body for a in answers}
    assert len(serials) == 1, serials
    serial = serials.pop()
    db.commit()  # a new read transaction: see what the burst committed
    assert db.scalars(sa.select(WalletPass.serial).where(
        WalletPass.wallet_id == wallet_id)).all() == [serial]

    device = uuid.uuid4().hex
    url = (f"{pass_server.url}/api/v1/apple-wallet/v1/devices/{device}/registrations/"
           f"{PASS_TYPE_ID}/{serial}")
    headers = {"Authorization": "ApplePass "
               + authentication_token("live-server-secret", serial)}

    def register() -> Answer:
        response = requests.post(url, json={"pushToken": "push"}, headers=headers,
                                 timeout=TIMEOUT)
        return Answer(response.status_code, response.text, False)

    answers = race([register for _ in range(TABS)])
    assert Counter(a.status for a in answers) == {201: 1, 200: TABS - 1}, answers
    db.commit()  # a new read transaction: see what the burst committed
    assert count(db, sa.select(PassRegistration).where(
        PassRegistration.device_library_id == device)) == 1
