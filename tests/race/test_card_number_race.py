"""A phone's card number, made on its first showing, raced by ten tabs at once."""

from __future__ import annotations

import re
from collections import Counter

import requests
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from loyalty.models import Wallet
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_wallet_token
from tests.race.helpers import TIMEOUT, Answer, race, wallet_of

TABS = 10
NUMBER = re.compile(r'<p class="code card-number">([\d ]+)</p>')


def test_ten_first_showings_of_a_card_make_one_number(
    live_server: LiveServer, db: Session
) -> None:
    scheme = make_scheme(db)
    token = make_wallet_token(db, scheme)
    wallet_id = wallet_of(db, token).id
    db.commit()
    cookie = URLSafeSerializer("live-server-secret", salt="wallet-cookie").dumps(
        {"w": {str(scheme.id): token}, "c": str(scheme.id)}
    )

    def show() -> Answer:
        response = requests.get(
            live_server.url + "/wallet/card", cookies={"ls_wallet": cookie}, timeout=TIMEOUT
        )
        found = NUMBER.search(response.text)
        return Answer(response.status_code, found.group(1) if found else response.text, False)

    answers = race([show for _ in range(TABS)])
    assert Counter(a.status for a in answers) == {200: TABS}, answers
    numbers = {a.body for a in answers}
    assert len(numbers) == 1, numbers  # every tab shows the number the database kept
    db.expire_all()
    assert db.get_one(Wallet, wallet_id).card_number == numbers.pop().replace(" ", "")
