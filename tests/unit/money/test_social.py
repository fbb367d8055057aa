"""loyalty.money.social: entitlement codes, the monthly credit once per month, the
points multiplier paid by the scheme (never by the shop), expiry and take-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import campaigns, claims
from loyalty.errors import Conflict, Forbidden, Gone
from loyalty.models import AccountKind, Asset, Claim, PurchaseEvent, Scheme, Wallet
from loyalty.money import accounts, euros, ledger, social
from loyalty.shoppers import wallets
from tests.factories import make_merchant, make_scheme

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)  # in Brussels at NOW


def _entitled(session: Session, scheme: Scheme, until: date = date(2026, 6, 30)) -> Wallet:
    wallet = wallets.create_wallet(session, scheme).wallet
    [code] = social.issue_codes(session, scheme, 1, until, by=None, today=TODAY, now=NOW)
    assert social.enter_code(session, wallet, code, TODAY, NOW) == until
    return wallet


def _points(session: Session, wallet: Wallet) -> int:
    return wallets.points_balance(session, wallet)


def test_entitled_wallets_get_extra_points_paid_by_the_scheme_not_the_shop(
    session: Session,
) -> None:
    scheme = make_scheme(session, social_multiplier_pct=150)  # 5 cents a point, 1 a euro
    shop = make_merchant(session, scheme)
    social.fund(session, scheme, 10_000, by=None, now=NOW)
    entitled = _entitled(session, scheme)
    other = wallets.create_wallet(session, scheme).wallet

    sale = claims.create_claim(session, shop, 2000, NOW)
    result = claims.collect(session, sale.claim, entitled, NOW)
    assert (result.points_credited, result.social_points, result.bonus_points) == (30, 10, 0)
    assert _points(session, entitled) == 30
    plain = claims.collect(session, claims.create_claim(session, shop, 2000, NOW).claim, other,
                           NOW)
    assert (plain.points_credited, plain.social_points) == (20, 0)

    # The shop's side carries the sale's own points only: its claim, its position
    # (it owes 2 x 20 points x 5 cents) and the purchase its reports count.
    assert session.get_one(Claim, sale.id).points == 20
    position = accounts.merchant_account(session, scheme.id, shop.id,
                                         AccountKind.MERCHANT_POSITION)
    assert ledger.balance(session, position.id) == -200
    assert sorted(session.scalars(
        sa.select(PurchaseEvent.points).where(PurchaseEvent.merchant_id == shop.id))) == [20, 20]
    # The extra 10 points came from the social budget: 10 x 5 cents.
    assert ledger.balance(session, social.budget_account(session, scheme.id).id) == 10_000 - 50
    issued = ledger.account(session, scheme.id, AccountKind.SOCIAL_ISSUED, Asset.POINTS,
                            ledger.SCHEME_OWNER)
    assert ledger.balance(session, issued.id) == -10
    assert ledger.verify(session).ok


def test_a_spent_social_budget_gives_the_sale_its_own_points(session: Session) -> None:
    scheme = make_scheme(session, social_multiplier_pct=200)
    shop = make_merchant(session, scheme)
    social.fund(session, scheme, 99, by=None, now=NOW)  # not 20 extra points x 5 cents
    wallet = _entitled(session, scheme)
    result = claims.collect(session, claims.create_claim(session, shop, 2000, NOW).claim,
                            wallet, NOW)
    assert (result.points_credited, result.social_points) == (20, 0)
    assert ledger.balance(session, social.budget_account(session, scheme.id).id) == 99
    assert ledger.verify(session).ok


def test_the_entitlement_ends_after_its_date(session: Session) -> None:
    scheme = make_scheme(session, social_multiplier_pct=150, social_monthly_cents=1000)
    shop = make_merchant(session, scheme)
    social.fund(session, scheme, 10_000, by=None, now=NOW)
    wallet = _entitled(session, scheme, until=TODAY)
    assert social.entitled_until(session, wallet.id, TODAY) == TODAY
    tomorrow = TODAY + timedelta(days=1)
    assert social.entitled_until(session, wallet.id, tomorrow) is None
    later = NOW + timedelta(days=1)
    result = claims.collect(session, claims.create_claim(session, shop, 2000, later).claim,
                            wallet, later)
    assert result.social_points == 0
    assert social.credit_month(session, scheme, tomorrow, tomorrow, later).credited == 0
    assert euros.balance(session, wallet) == 0
    # A code whose date has passed entitles no one.
    [late] = social.issue_codes(session, scheme, 1, TODAY, by=None, today=TODAY, now=NOW)
    with pytest.raises(Gone):
        social.enter_code(session, wallets.create_wallet(session, scheme).wallet, late,
                          tomorrow, later)


def test_codes_are_used_once_and_only_in_their_scheme(session: Session) -> None:
    scheme = make_scheme(session)
    elsewhere = make_scheme(session)
    [code] = social.issue_codes(session, scheme, 1, date(2026, 12, 31), by=None, today=TODAY,
                                now=NOW)
    with pytest.raises(Forbidden):
        social.enter_code(session, wallets.create_wallet(session, elsewhere).wallet, code,
                          TODAY, NOW)
    first = wallets.create_wallet(session, scheme).wallet
    # Typed in lower case without dashes, it is the same code.
    social.enter_code(session, first, code.replace("-", "").lower(), TODAY, NOW)
    with pytest.raises(Conflict):
        social.enter_code(session, wallets.create_wallet(session, scheme).wallet, code,
                          TODAY, NOW)
    with pytest.raises(Forbidden):
        social.enter_code(session, first, "AAAA-BBBB-CCCC-DDDD", TODAY, NOW)


def test_the_monthly_credit_is_paid_once_a_month_while_the_budget_lasts(
    session: Session,
) -> None:
    scheme = make_scheme(session, social_monthly_cents=2000)
    social.fund(session, scheme, 5000, by=None, now=NOW)
    entitled = [_entitled(session, scheme) for _ in range(3)]
    wallets.create_wallet(session, scheme)  # not entitled

    first = social.credit_month(session, scheme, TODAY, TODAY, NOW)
    assert (first.credited, first.budget_spent) == (2, True)
    again = social.credit_month(session, scheme, TODAY, TODAY, NOW)
    assert (again.credited, again.budget_spent) == (0, True)
    social.fund(session, scheme, 10_000, by=None, now=NOW)
    topped = social.credit_month(session, scheme, TODAY, TODAY, NOW)
    assert (topped.credited, topped.budget_spent) == (1, False)
    assert social.credit_month(session, scheme, TODAY, TODAY, NOW).credited == 0
    assert [euros.balance(session, w) for w in entitled] == [2000] * 3
    april = date(2026, 4, 1)
    assert social.credit_month(session, scheme, april, april, NOW + timedelta(days=30)) \
        .credited == 3
    assert [euros.balance(session, w) for w in entitled] == [4000] * 3
    [part, *_] = euros.parts(session, entitled[0])
    assert part.source == "social"
    assert ledger.verify(session).ok


def test_take_up_is_shown_only_in_aggregate_of_at_least_k_wallets(session: Session) -> None:
    scheme = make_scheme(session, k_anonymity=3, social_monthly_cents=1000)
    social.fund(session, scheme, 50_000, by=None, now=NOW)
    for _ in range(2):
        _entitled(session, scheme)
    social.credit_month(session, scheme, TODAY, TODAY, NOW)
    hidden = social.take_up(session, scheme, TODAY)
    assert hidden.suppressed
    assert (hidden.entitled, hidden.credited_cents, hidden.extra_points) == (None, None, None)
    assert hidden.budget_left_cents == 48_000
    _entitled(session, scheme)
    social.credit_month(session, scheme, TODAY, TODAY, NOW)
    shown = social.take_up(session, scheme, TODAY)
    assert (shown.suppressed, shown.entitled, shown.credited_cents) == (False, 3, 3000)
    # After the entitlements end, the paid wallets alone (3) are still enough.
    assert social.take_up(session, scheme, date(2026, 7, 1)).entitled == 0


def test_a_campaign_bonus_and_the_extra_points_are_each_paid_from_their_budget(
    session: Session,
) -> None:
    scheme = make_scheme(session, social_multiplier_pct=150)
    shop = make_merchant(session, scheme)
    campaign = campaigns.create_campaign(
        session, scheme, name="Dubbel", starts_at=NOW - timedelta(days=1),
        ends_at=NOW + timedelta(days=1), budget_cents=10_000, now=NOW, multiplier_pct=200,
    )
    social.fund(session, scheme, 10_000, by=None, now=NOW)
    wallet = _entitled(session, scheme)
    result = claims.collect(session, claims.create_claim(session, shop, 2000, NOW).claim,
                            wallet, NOW)
    # The extra points multiply the sale's own points, not the campaign's bonus.
    assert (result.points_credited, result.bonus_points, result.social_points) == (50, 20, 10)
    position = accounts.merchant_account(session, scheme.id, shop.id,
                                         AccountKind.MERCHANT_POSITION)
    assert ledger.balance(session, position.id) == -100
    assert campaigns.figures(session, campaign, NOW).spent_cents == 100
    assert ledger.balance(session, social.budget_account(session, scheme.id).id) == 10_000 - 50
    assert ledger.verify(session).ok
