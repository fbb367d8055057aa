"""Random sequences of earns, spends, cancellations, expiries and reversals keep
the ledger equal to a plain Python model of it, and balanced, at every step.

Each example makes its own scheme. Every operation runs inside a savepoint
(``session.begin_nested()``), so one that raises, such as InsufficientBalance,
leaves nothing behind, as a caller's rollback would; each step is committed
after the invariants have been checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.orm import Session

from loyalty.earning import claims
from loyalty.errors import (
    AlreadyUsed,
    Conflict,
    Gone,
    InsufficientBalance,
    LoyaltyError,
    NotFound,
)
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    Posting,
    Redemption,
    Scheme,
    Wallet,
)
from loyalty.money import ledger
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from tests.factories import make_merchant, make_scheme

N_WALLETS = 3
SHOP_RATES = (1, 1, 3)  # points per full euro; the last shop gives more than the scheme
T = TypeVar("T")
START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@dataclass
class Earn:
    transaction_id: int
    wallet: int
    shop: int
    points: int
    reversed: bool = False


@dataclass
class Hold:
    code: str
    wallet: int
    points: int
    expires_at: datetime
    state: str = "held"  # held / confirmed / cancelled / expired (released)

    def expired(self, now: datetime) -> bool:
        return self.state == "held" and self.expires_at <= now


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.ready = False

    # -- set-up --------------------------------------------------------------------------

    @initialize(
        opening=st.lists(st.integers(100, 5_000), min_size=N_WALLETS, max_size=N_WALLETS)
    )
    def open_scheme(self, opening: list[int]) -> None:
        """A new scheme, its shops and wallets, and a first sale for each wallet."""
        s = self.session
        self.scheme: Scheme = make_scheme(s)
        self.shops: list[Merchant] = [
            make_merchant(s, self.scheme, earn_rate=rate if rate > 1 else None)
            for rate in SHOP_RATES
        ]
        self.wallets: list[Wallet] = [
            wallets.create_wallet(s, self.scheme).wallet for _ in range(N_WALLETS)
        ]
        s.commit()
        self.ttl = timedelta(seconds=self.scheme.hold_ttl_seconds)
        self.now = START
        # The model.
        self.balance = [0] * N_WALLETS
        self.issued = [0] * len(SHOP_RATES)
        self.redeemed = [0] * len(SHOP_RATES)
        self.earns: list[Earn] = []
        self.holds: list[Hold] = []
        self.ready = True
        # Rules may be switched off for a whole example (Hypothesis's swarm testing):
        # without these first sales, an example without earns would only see empty wallets.
        for wallet, amount_cents in enumerate(opening):
            self._earn(wallet, wallet % len(SHOP_RATES), amount_cents)

    def teardown(self) -> None:
        self.session.rollback()  # a failed step's leftovers, if any

    # -- helpers -------------------------------------------------------------------------

    def _attempt(
        self,
        label: str,
        operation: Callable[[], T],
        expected: type[LoyaltyError] | None,
        code: str | None = None,
    ) -> T | None:
        """Run ``operation`` in a savepoint; it must raise exactly ``expected`` (or succeed)."""
        event(f"{label}: {expected.__name__ if expected else 'ok'}")
        try:
            with self.session.begin_nested():
                result = operation()
        except LoyaltyError as error:
            assert type(error) is expected, f"raised {error!r}, expected {expected}"
            if code is not None:
                assert error.code == code, error.code
            return None
        assert expected is None, f"succeeded, expected {expected}"
        return result

    def _pick_hold(self, data: st.DataObject) -> Hold:
        """Mostly a code that is still held (so confirms and cancels succeed), else any."""
        held = [h for h in self.holds if h.state == "held"]
        pool = held if held and data.draw(st.integers(0, 2), label="pick") < 2 else self.holds
        return data.draw(st.sampled_from(pool), label="hold")

    def _release_expired_in_model(self, wallet: int | None = None) -> int:
        released = 0
        for hold in self.holds:
            if hold.expired(self.now) and wallet in (None, hold.wallet):
                hold.state = "expired"
                self.balance[hold.wallet] += hold.points
                released += 1
        return released

    # -- rules ---------------------------------------------------------------------------

    # One argument, not three: Hypothesis favours the first of the rules sorted by
    # number of arguments and name, and the earn rule makes the others interesting.
    @rule(
        sale=st.tuples(
            st.integers(0, N_WALLETS - 1),  # wallet
            st.integers(0, len(SHOP_RATES) - 1),  # shop
            st.integers(100, 9_999),  # amount in cents
        )
    )
    def earn(self, sale: tuple[int, int, int]) -> None:
        self._earn(*sale)

    def _earn(self, wallet: int, shop: int, amount_cents: int) -> None:
        def operation() -> claims.ClaimResult:
            new = claims.create_claim(self.session, self.shops[shop], amount_cents, self.now)
            return claims.claim_points(self.session, new.token, self.wallets[wallet], self.now)

        result = self._attempt("earn", operation, None)
        points = amount_cents // 100 * SHOP_RATES[shop]
        self.balance[wallet] += points
        self.issued[shop] -= points
        assert result.points_credited == points
        assert result.balance == self.balance[wallet]
        assert result.transaction_id is not None
        self.earns.append(Earn(result.transaction_id, wallet, shop, points))

    @rule(wallet=st.integers(0, N_WALLETS - 1), data=st.data())
    def redeem(self, wallet: int, data: st.DataObject) -> None:
        # create_redemption first returns the wallet's expired holds.
        returning = sum(h.points for h in self.holds if h.wallet == wallet and h.expired(self.now))
        available = self.balance[wallet] + returning
        too_much = data.draw(st.integers(0, 2), label="attempt") == 2  # one attempt in three
        points = data.draw(
            st.integers(available + 1, available + 20)
            if too_much
            else st.integers(1, max(available, 1)),  # within the balance, unless that is 0
            label="points",
        )
        ok = points <= available
        redemption = self._attempt(
            "redeem",
            lambda: redemptions.create_redemption(
                self.session, self.wallets[wallet], points, self.now
            ),
            None if ok else InsufficientBalance,
        )
        if ok:
            self._release_expired_in_model(wallet)
            self.balance[wallet] -= points
            assert redemption.expires_at == self.now + self.ttl
            self.holds.append(Hold(redemption.code, wallet, points, redemption.expires_at))

    @precondition(lambda self: self.holds)
    @rule(shop=st.integers(0, len(SHOP_RATES) - 1), data=st.data())
    def confirm(self, shop: int, data: st.DataObject) -> None:
        hold = self._pick_hold(data)
        expected, code = self._finished_error(hold)
        if hold.expired(self.now):
            expected, code = Gone, "code_expired"
        self._attempt(
            "confirm",
            lambda: redemptions.confirm_redemption(
                self.session, hold.code, self.shops[shop], self.now
            ),
            expected,
            code,
        )
        if expected is None:
            hold.state = "confirmed"
            self.redeemed[shop] += hold.points

    @precondition(lambda self: self.holds)
    @rule(other=st.one_of(st.none(), st.integers(0, N_WALLETS - 1)), data=st.data())
    def cancel(self, other: int | None, data: st.DataObject) -> None:
        """The owner cancels (other=None), or some wallet tries to."""
        hold = self._pick_hold(data)
        by = hold.wallet if other is None else other
        if by != hold.wallet:
            # Another wallet's code does not exist, as far as this wallet knows.
            expected, code = NotFound, "unknown_code"
        else:
            # A held code cancels even after expires_at, as long as nothing released it.
            expected, code = self._finished_error(hold)
        self._attempt(
            "cancel",
            lambda: redemptions.cancel_redemption(
                self.session, self.wallets[by], hold.code, self.now
            ),
            expected,
            code,
        )
        if expected is None:
            hold.state = "cancelled"
            self.balance[hold.wallet] += hold.points

    @staticmethod
    def _finished_error(hold: Hold) -> tuple[type[LoyaltyError] | None, str | None]:
        return {
            "held": (None, None),
            "confirmed": (AlreadyUsed, "already_used"),
            "cancelled": (Conflict, "code_cancelled"),
            "expired": (Gone, "code_expired"),
        }[hold.state]

    # The clock moves in whole minutes and the hold TTL is five of them, so "now"
    # often lands exactly on an expires_at: the boundary where off-by-one bugs live.
    @rule(minutes=st.integers(1, 4))
    def tick(self, minutes: int) -> None:
        """Time passes; holds may expire without anyone releasing them yet."""
        self.now += timedelta(minutes=minutes)

    @rule(extra_minutes=st.integers(0, 2))
    def expire(self, extra_minutes: int) -> None:
        self.now += self.ttl + timedelta(minutes=extra_minutes)
        before = self._released_expired_in_db()
        # Global: it may also release other schemes' holds, so count ours in the database.
        released = self._attempt(
            "expire", lambda: redemptions.release_expired(self.session, self.now), None
        )
        expected = self._release_expired_in_model()
        assert released >= expected
        assert self._released_expired_in_db() - before == expected
        assert not any(h.state == "held" for h in self.holds)

    @precondition(lambda self: self.earns)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        earn = data.draw(st.sampled_from(self.earns), label="earn")
        if earn.reversed:
            expected, code = Conflict, "already_reversed"
        elif self.balance[earn.wallet] < earn.points:
            expected, code = InsufficientBalance, None
        else:
            expected, code = None, None
        reversal = self._attempt(
            "reverse", lambda: ledger.reverse(self.session, earn.transaction_id), expected, code
        )
        if expected is None:
            reversed_by = self.session.get_one(LedgerTransaction, reversal)
            assert reversed_by.reverses_id == earn.transaction_id
            earn.reversed = True
            self.balance[earn.wallet] -= earn.points
            self.issued[earn.shop] += earn.points

    # -- invariants ----------------------------------------------------------------------

    def _released_expired_in_db(self) -> int:
        return int(
            self.session.scalar(
                sa.select(sa.func.count()).where(
                    Redemption.scheme_id == self.scheme.id,
                    Redemption.release_reason == "expired",
                )
            )
            or 0
        )

    @invariant()
    def ledger_matches_the_model(self) -> None:
        if not self.ready:
            return
        s = self.session
        mine = Account.scheme_id == self.scheme.id
        from_postings = (
            sa.select(Posting.account_id, sa.func.sum(Posting.amount).label("total"))
            .join(Account, Account.id == Posting.account_id)
            .where(mine)
            .group_by(Posting.account_id)
            .subquery()
        )
        rows = s.execute(
            sa.select(
                Account.kind,
                Account.owner_key,
                Account.balance,
                sa.func.coalesce(from_postings.c.total, 0),
            )
            .outerjoin(from_postings, from_postings.c.account_id == Account.id)
            # The shoppers' euros (town money) are not in this model; a shop's
            # merchant_redeemed account of them would share its key below.
            .where(mine, Account.asset != Asset.EUROS)
        ).all()
        balances = {(kind, owner): int(cached) for kind, owner, cached, _total in rows}
        for kind, owner, cached, total in rows:
            assert cached == total, f"{kind} {owner}: cached {cached}, postings say {total}"
        for i, wallet in enumerate(self.wallets):
            got = balances[(AccountKind.WALLET, ledger.wallet_owner(wallet.id))]
            assert got == self.balance[i], f"wallet {i}: {got} != model {self.balance[i]}"
            assert got >= 0
        for i, shop in enumerate(self.shops):
            owner = ledger.merchant_owner(shop.id)
            assert balances[(AccountKind.MERCHANT_ISSUED, owner)] == self.issued[i]
            assert balances[(AccountKind.MERCHANT_REDEEMED, owner)] == self.redeemed[i]
        open_holds = sum(h.points for h in self.holds if h.state == "held")
        assert balances[(AccountKind.HOLDS, ledger.SCHEME_OWNER)] == open_holds
        assert balances[(AccountKind.BREAKAGE, ledger.SCHEME_OWNER)] == 0
        assert sum(balances.values()) == 0

        unbalanced = s.execute(
            sa.select(Posting.transaction_id, Posting.asset)
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(LedgerTransaction.scheme_id == self.scheme.id)
            .group_by(Posting.transaction_id, Posting.asset)
            .having(sa.func.sum(Posting.amount) != 0)
        ).all()
        assert unbalanced == []

        states = dict(
            s.execute(
                sa.select(
                    Redemption.code,
                    sa.func.coalesce(Redemption.release_reason, Redemption.status),
                ).where(Redemption.scheme_id == self.scheme.id)
            ).all()
        )
        assert states == {h.code: h.state for h in self.holds}

        report = ledger.verify(s)
        assert report.ok, report
        # Each step is one committed transaction, as a request would be.
        s.commit()


def test_random_operations_keep_the_ledger_equal_to_the_model(session: Session) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(session),
        settings=settings(
            max_examples=35,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
