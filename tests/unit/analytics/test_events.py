"""loyalty.analytics.events: one pseudonymous purchase event per claimed sale."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import events
from loyalty.earning import claims
from loyalty.errors import AlreadyUsed, Conflict, Gone
from loyalty.infra import security
from loyalty.models import Claim, Merchant, PseudonymKey, PurchaseEvent, Scheme, Wallet
from loyalty.shoppers import wallets
from tests.factories import make_merchant, make_scheme

NOW = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)  # 10:30 in Brussels (CEST), a Wednesday

# Exactly these columns, and none that could lead back to a wallet.
EVENT_COLUMNS = {
    "id",
    "scheme_id",
    "merchant_id",
    "sector",
    "amount_cents",
    "points",
    "campaign_id",
    "local_date",
    "local_hour",
    "weekday",
    "shopper_key",
    "home_postcode",
    "home_village",
    "age_band",
}


def _wallet(session: Session, scheme: Scheme, **personal: Any) -> tuple[Wallet, str]:
    new = wallets.create_wallet(session, scheme)
    for name, value in personal.items():
        setattr(new.wallet, name, value)
    session.commit()
    return new.wallet, new.token


def _claim(
    session: Session, merchant: Merchant, wallet: Wallet, at: datetime, amount_cents: int = 2350
) -> tuple[claims.ClaimResult, str]:
    new = claims.create_claim(session, merchant, amount_cents, at)
    result = claims.claim_points(session, new.token, wallet, at)
    session.commit()
    return result, new.token


def _rows(session: Session, scheme: Scheme) -> list[dict[str, Any]]:
    """The scheme's events as stored, every column (SELECT *), oldest first."""
    result = session.execute(
        sa.text("SELECT * FROM analytics_purchase_events WHERE scheme_id = :s ORDER BY id"),
        {"s": scheme.id},
    )
    return [dict(row) for row in result.mappings()]


def _events(session: Session, scheme: Scheme) -> list[PurchaseEvent]:
    return list(
        session.scalars(
            sa.select(PurchaseEvent)
            .where(PurchaseEvent.scheme_id == scheme.id)
            .order_by(PurchaseEvent.id)
        )
    )


def test_each_claim_makes_exactly_one_purchase_event(session: Session) -> None:
    scheme = make_scheme(session)
    bakery = make_merchant(session, scheme, sector="47.24")
    butcher = make_merchant(session, scheme, sector="47.22", earn_rate=2)
    anna, _ = _wallet(session, scheme)
    ben, _ = _wallet(session, scheme)

    _claim(session, bakery, anna, NOW, 2350)
    _claim(session, butcher, anna, NOW + timedelta(minutes=1), 1099)
    _claim(session, bakery, ben, NOW + timedelta(minutes=2), 500)

    events = _events(session, scheme)
    assert [(e.merchant_id, e.sector, e.amount_cents, e.points, e.campaign_id) for e in events] == [
        (bakery.id, "47.24", 2350, 23, None),
        (butcher.id, "47.22", 1099, 20, None),
        (bakery.id, "47.24", 500, 5, None),
    ]


def test_failed_claims_make_no_event(session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    wallet, _ = _wallet(session, scheme)
    _, used = _claim(session, shop, wallet, NOW)
    expired = claims.create_claim(session, shop, 1000, NOW).token
    cancelled = claims.create_claim(session, shop, 1000, NOW)
    claims.cancel_claim(session, cancelled.claim, NOW)
    session.commit()

    later = NOW + timedelta(minutes=10)
    failures = (
        (used, AlreadyUsed, "already_claimed"),
        (expired, Gone, "claim_expired"),
        (cancelled.token, Conflict, "claim_cancelled"),
    )
    for token, error, code in failures:
        with pytest.raises(error) as raised:
            claims.claim_points(session, token, wallet, later)
        assert raised.value.code == code
        # Nothing was left in the session to be committed by a careless caller.
        session.flush()
        assert len(_events(session, scheme)) == 1
    session.rollback()


def test_no_column_can_identify_a_wallet(session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    amount = 123456  # 1234 points; at NOW, hour 10 and weekday 2
    wallet, token = _wallet(session, scheme)
    # Event ids and other ids are checked to be exactly what they are; for the
    # remaining numbers, avoid a wallet id that equals one of them by chance.
    while wallet.id in {amount, 1234, 10, 2}:
        wallet, token = _wallet(session, scheme)
    result, claim_token = _claim(session, shop, wallet, NOW, amount)

    columns = {c["name"] for c in sa.inspect(session.connection()).get_columns(
        "analytics_purchase_events"
    )}
    assert columns == EVENT_COLUMNS
    assert set(PurchaseEvent.__table__.columns.keys()) == EVENT_COLUMNS

    [row] = _rows(session, scheme)
    [event] = _events(session, scheme)
    assert set(row) == EVENT_COLUMNS
    # Every value is accounted for by the sale, the shop and the clock ...
    assert row["id"] == event.id
    assert row["scheme_id"] == scheme.id and row["merchant_id"] == shop.id
    assert (row["amount_cents"], row["points"]) == (amount, 1234)
    assert (row["local_hour"], row["weekday"]) == (10, 2)
    assert row["campaign_id"] is None and row["sector"] == shop.sector
    assert row["home_postcode"] is None and row["home_village"] is None
    assert row["age_band"] is None
    # ... and none is the wallet's id, token, recovery code or the claim's token.
    claim = session.get_one(Claim, result.claim_id)
    assert claim.wallet_id == wallet.id  # the claim does link: the event may not
    secrets_ = {
        token,
        claim_token,
        wallet.token_hash,
        wallet.recovery_hash,
        security.token_hash(claim_token),
    }
    for name, value in row.items():
        if name in {"id", "scheme_id", "merchant_id"}:
            continue  # checked above to be the event's, the scheme's and the shop's own ids
        assert value != wallet.id and str(value) != str(wallet.id), name
        for secret in secrets_:
            assert secret not in str(value), name


def test_two_wallets_buying_the_same_make_events_that_differ_only_in_the_pseudonym(
    session: Session,
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    anna, _ = _wallet(session, scheme)
    ben, _ = _wallet(session, scheme)
    _claim(session, shop, anna, NOW)
    _claim(session, shop, ben, NOW)

    first, second = _rows(session, scheme)
    assert first["shopper_key"] != second["shopper_key"]
    differing = {name for name in first if first[name] != second[name]}
    assert differing == {"id", "shopper_key"}


def test_the_pseudonym_is_stable_within_a_year_and_changes_across_years(
    session: Session,
) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    anna, _ = _wallet(session, scheme)
    ben, _ = _wallet(session, scheme)

    _claim(session, shop, anna, datetime(2026, 1, 2, 9, 0, tzinfo=UTC))
    _claim(session, shop, anna, datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    _claim(session, shop, ben, datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    _claim(session, shop, anna, datetime(2027, 2, 3, 10, 0, tzinfo=UTC))
    # 23:30 UTC on New Year's Eve is already 2027 in Brussels.
    _claim(session, shop, anna, datetime(2026, 12, 31, 23, 30, tzinfo=UTC))

    keys = [row["shopper_key"] for row in _rows(session, scheme)]
    anna_2026, anna_2026_again, ben_2026, anna_2027, anna_new_year = keys
    assert anna_2026 == anna_2026_again
    assert anna_2026 != ben_2026
    assert anna_2027 != anna_2026
    assert anna_new_year == anna_2027
    assert all(len(k) == 64 for k in keys)

    # One secret per scheme and year; the pseudonym is keyed with it.
    secrets_by_year = dict(
        session.execute(
            sa.select(PseudonymKey.year, PseudonymKey.secret).where(
                PseudonymKey.scheme_id == scheme.id
            )
        ).all()
    )
    assert set(secrets_by_year) == {2026, 2027}
    assert secrets_by_year[2026] != secrets_by_year[2027]
    for year, key in ((2026, anna_2026), (2027, anna_2027)):
        expected = hmac.new(
            secrets_by_year[year].encode(), str(anna.id).encode(), hashlib.sha256
        ).hexdigest()
        assert key == expected


def test_the_same_wallet_id_gets_different_pseudonyms_in_different_schemes(
    session: Session,
) -> None:
    first, second = make_scheme(session), make_scheme(session)
    assert events.shopper_key(session, first.id, 42, 2026) != events.shopper_key(
        session, second.id, 42, 2026
    )
    session.rollback()


def test_home_area_and_age_band_are_copied_only_with_consent(session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_merchant(session, scheme)
    personal = {"home_postcode": "9170", "home_village": "De Klinge", "age_band": "35-44"}
    consenting, _ = _wallet(session, scheme, stats_consent=True, **personal)
    declining, _ = _wallet(session, scheme, stats_consent=False, **personal)

    _claim(session, shop, consenting, NOW)
    _claim(session, shop, declining, NOW)
    # Consent withdrawn (the data kept): later events carry none of it.
    consenting.stats_consent = False
    session.commit()
    _claim(session, shop, consenting, NOW + timedelta(days=1))

    def personal_of(row: dict[str, Any]) -> tuple[Any, Any, Any]:
        return row["home_postcode"], row["home_village"], row["age_band"]

    with_consent, without, withdrawn = _rows(session, scheme)
    assert personal_of(with_consent) == ("9170", "De Klinge", "35-44")
    assert personal_of(without) == (None, None, None)
    assert personal_of(withdrawn) == (None, None, None)


@pytest.mark.parametrize(
    ("at", "local_date", "hour", "weekday"),
    [
        pytest.param(datetime(2026, 7, 1, 8, 30, tzinfo=UTC), date(2026, 7, 1), 10, 2,
                     id="summer-CEST"),
        pytest.param(datetime(2026, 1, 15, 8, 30, tzinfo=UTC), date(2026, 1, 15), 9, 3,
                     id="winter-CET"),
        pytest.param(datetime(2026, 7, 1, 22, 30, tzinfo=UTC), date(2026, 7, 2), 0, 3,
                     id="after-local-midnight"),
        pytest.param(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), date(2026, 3, 29), 1, 6,
                     id="before-the-clocks-go-forward"),
        pytest.param(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), date(2026, 3, 29), 3, 6,
                     id="after-the-clocks-go-forward"),
    ],
)
def test_local_hour_and_weekday_are_in_brussels_time(
    session: Session, at: datetime, local_date: date, hour: int, weekday: int
) -> None:
    scheme = make_scheme(session)
    assert scheme.timezone == "Europe/Brussels"
    shop = make_merchant(session, scheme)
    wallet, _ = _wallet(session, scheme)
    _claim(session, shop, wallet, at)

    [row] = _rows(session, scheme)
    assert row["local_hour"] == hour
    assert row["weekday"] == weekday
    [event] = _events(session, scheme)
    assert event.local_date == local_date
