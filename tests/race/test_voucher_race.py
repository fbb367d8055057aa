"""A voucher is behind at most one spend code, however many requests race for it;
stamps racing onto one card open one stamp account and fill it exactly."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import claims, stamps
from loyalty.infra.db import utcnow
from loyalty.models import Account, Redemption, Voucher
from loyalty.shoppers import wallets
from tests.conftest import LiveServer
from tests.factories import bearer, make_scheme, make_shop, make_wallet_token
from tests.race.helpers import post, race


def test_one_voucher_one_code(live_server: LiveServer, db: Session, verify_ledger) -> None:
    scheme = make_scheme(db)
    shop = make_shop(db, scheme)
    card = stamps.create_card(
        db, shop.merchant, name="Koffiekaart", stamps_needed=2, reward="Gratis koffie"
    )
    token = make_wallet_token(db, scheme)
    wallet = wallets.wallet_by_token(db, token)
    sale = claims.create_claim(db, shop.merchant, 0, utcnow(), stamps=2, stamp_card_id=card.id)
    claims.claim_points(db, sale.token, wallet, utcnow())
    voucher_id = db.scalars(sa.select(Voucher.id).where(Voucher.wallet_id == wallet.id)).one()
    db.commit()

    answers = race(
        [
            post(live_server.api("/wallet/redemptions"), bearer(token), {"voucher_id": voucher_id})
            for _ in range(12)
        ]
    )
    assert sorted(a.status for a in answers) == [201] + [409] * 11
    assert {a.error_code for a in answers if a.status == 409} == {"voucher_busy"}
    codes = db.scalars(sa.select(Redemption.code).where(Redemption.voucher_id == voucher_id)).all()
    assert len(codes) == 1
    db.rollback()
    verify_ledger()


def test_stamps_race_onto_a_new_card(live_server: LiveServer, db: Session, verify_ledger) -> None:
    scheme = make_scheme(db)
    shop = make_shop(db, scheme)
    card = stamps.create_card(
        db, shop.merchant, name="Broodkaart", stamps_needed=5, reward="Gratis brood"
    )
    token = make_wallet_token(db, scheme)
    sales = [
        claims.create_claim(db, shop.merchant, 0, utcnow(), stamps=1, stamp_card_id=card.id)
        for _ in range(12)
    ]
    db.commit()

    answers = race(
        [post(live_server.api(f"/claims/{s.token}/claim"), bearer(token)) for s in sales]
    )
    assert [a.status for a in answers] == [200] * 12
    wallet = wallets.wallet_by_token(db, token)
    accounts = db.scalars(
        sa.select(Account).where(Account.wallet_id == wallet.id, Account.asset == card.asset)
    ).all()
    assert len(accounts) == 1 and accounts[0].balance == 2  # 12 stamps: two full cards
    vouchers = db.scalars(sa.select(Voucher.id).where(Voucher.wallet_id == wallet.id)).all()
    assert len(vouchers) == 2
    db.rollback()
    verify_ledger()
