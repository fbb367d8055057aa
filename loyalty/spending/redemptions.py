"""Spending points: a hold with a one-time code, confirmed by any approved shop."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.earning import stamps
from loyalty.errors import (
    AlreadyUsed,
    Conflict,
    Forbidden,
    Gone,
    InsufficientBalance,
    InvalidInput,
    NotFound,
    TooManyAttempts,
)
from loyalty.models import (
    AccountKind,
    Asset,
    Merchant,
    MerchantStatus,
    Redemption,
    RedemptionStatus,
    Scheme,
    SpendCodeMiss,
    Voucher,
    Wallet,
    WebhookEvent,
)
from loyalty.money import accounts, euro_expiry, euros, ledger
from loyalty.oversight import fraud
from loyalty.shoppers import wallets
from loyalty.shops import webhooks

CODE_DIGITS = 8
MAX_POINTS = 1_000_000
MAX_EURO_CENTS = 100_000_000
# A cashier mistypes a code now and then; dozens of codes that do not exist in
# ten minutes are a till guessing live ones (one in 10^8 per held code). The
# shop's limit covers all its tills and its portal page together.
MISS_WINDOW = timedelta(minutes=10)
MAX_MISSES_PER_TILL = 20
MAX_MISSES_PER_SHOP = 40


def _holds_account(session: Session, scheme_id: int) -> ledger.AccountRef:
    return ledger.account(
        session, scheme_id, AccountKind.HOLDS, Asset.POINTS, ledger.SCHEME_OWNER
    )


def _euro_holds_account(session: Session, scheme_id: int) -> ledger.AccountRef:
    return ledger.account(
        session, scheme_id, AccountKind.HOLDS, Asset.EUROS, ledger.SCHEME_OWNER
    )


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def normalise_code(code: str) -> str:
    """Cashiers type codes with spaces or dashes ("4821 3307"): keep the digits."""
    return "".join(ch for ch in code if ch in "0123456789")


def create_redemption(
    session: Session, wallet: Wallet, points: int, now: datetime, *, euro_cents: int = 0
) -> Redemption:
    """Move points, euros (town money) or both from the wallet to a hold behind a new code.

    Raises InvalidInput, InsufficientBalance (409), Forbidden (frozen wallet).
    """
    wallets.ensure_usable(wallet)
    if not 0 <= points <= MAX_POINTS or not 0 <= euro_cents <= MAX_EURO_CENTS:
        raise InvalidInput(f"points must be between 1 and {MAX_POINTS}, euro_cents between "
                           f"1 and {MAX_EURO_CENTS}")
    if not points and not euro_cents:
        raise InvalidInput("give points, euro_cents or both")
    release_expired(session, now, wallet_id=wallet.id)
    scheme = session.get_one(Scheme, wallet.scheme_id)
    legs = []
    if points:
        legs += [
            ledger.Leg(wallets.points_account(session, wallet), -points),
            ledger.Leg(_holds_account(session, scheme.id), points),
        ]
    if euro_cents:
        # A part past its moment is gone even if the daily job has not run yet.
        euro_expiry.expire_wallet(session, scheme, wallet, now)
        found = euros.find_wallet_account(session, wallet)
        if found is None:
            raise InsufficientBalance("not enough euros")
        legs += [
            ledger.Leg(found, -euro_cents),
            ledger.Leg(_euro_holds_account(session, scheme.id), euro_cents),
        ]
    txn_id = ledger.post(session, scheme.id, "hold", legs, at=now)
    return _insert_with_code(
        session,
        scheme_id=scheme.id,
        wallet_id=wallet.id,
        points=points,
        euro_cents=euro_cents,
        discount_cents=points * scheme.point_value_cents + euro_cents,
        status=RedemptionStatus.HELD,
        created_at=now,
        expires_at=now + timedelta(seconds=scheme.hold_ttl_seconds),
        hold_transaction_id=txn_id,
    )


def create_voucher_redemption(
    session: Session, wallet: Wallet, voucher_id: int, now: datetime
) -> Redemption:
    """A spend code for a voucher; only the voucher's shop can confirm it.

    Raises NotFound, Gone (expired voucher), Conflict (voucher busy), Forbidden.
    """
    wallets.ensure_usable(wallet)
    release_expired(session, now, wallet_id=wallet.id)
    scheme = session.get_one(Scheme, wallet.scheme_id)
    voucher = stamps.hold_voucher(session, wallet, voucher_id, now)
    return _insert_with_code(
        session,
        scheme_id=scheme.id,
        wallet_id=wallet.id,
        points=0,
        discount_cents=0,
        voucher_id=voucher.id,
        status=RedemptionStatus.HELD,
        created_at=now,
        expires_at=now + timedelta(seconds=scheme.hold_ttl_seconds),
    )


def _insert_with_code(session: Session, **values: object) -> Redemption:
    # Codes are unique for all time; a collision (one in 10^8 per live code)
    # is retried inside a savepoint so the hold made before survives it.
    for _attempt in range(5):
        redemption = Redemption(code=new_code(), **values)
        try:
            with session.begin_nested():
                session.add(redemption)
        except sa.exc.IntegrityError:
            continue
        return redemption
    raise RuntimeError("could not find a free redemption code")


def get_redemption(session: Session, code: str, scheme_id: int) -> Redemption:
    redemption = session.scalar(
        sa.select(Redemption).where(
            Redemption.code == normalise_code(code), Redemption.scheme_id == scheme_id
        )
    )
    if redemption is None:
        raise NotFound("no such spend code", code="unknown_code")
    return redemption


def _misses_since(session: Session, since: datetime, **where: int) -> int:
    (column, value), = where.items()
    return int(session.scalar(
        sa.select(sa.func.count()).select_from(SpendCodeMiss).where(
            getattr(SpendCodeMiss, column) == value, SpendCodeMiss.at > since)
    ) or 0)


def check_till_lookup(
    session: Session, merchant: Merchant, now: datetime, *, till_key_id: int | None = None
) -> None:
    """May this shop's till look up a spend code now?

    Raises Forbidden (the shop is not approved), TooManyAttempts (too many unknown
    codes from this till or shop in the last ten minutes).
    """
    if merchant.status != MerchantStatus.APPROVED:
        raise Forbidden("this shop is not approved", code="merchant_not_approved")
    since = now - MISS_WINDOW
    if _misses_since(session, since, merchant_id=merchant.id) >= MAX_MISSES_PER_SHOP or (
        till_key_id is not None
        and _misses_since(session, since, till_key_id=till_key_id) >= MAX_MISSES_PER_TILL
    ):
        raise TooManyAttempts(
            "too many unknown spend codes; try again in 10 minutes", code="too_many_unknown_codes"
        )


def lookup_at_till(
    session: Session, code: str, merchant: Merchant, now: datetime,
    *, till_key_id: int | None = None,
) -> Redemption:
    """A spend code as a shop's till looks it up (a NotFound is for record_miss).

    Raises Forbidden, TooManyAttempts, NotFound.
    """
    check_till_lookup(session, merchant, now, till_key_id=till_key_id)
    return get_redemption(session, code, merchant.scheme_id)


def record_miss(
    session: Session, merchant_id: int, now: datetime, *, till_key_id: int | None = None
) -> None:
    """Count a till's look-up of a code that does not exist (in a transaction that
    commits even though the request fails); the miss that reaches a limit also
    raises a fraud flag for the municipality."""
    session.add(SpendCodeMiss(merchant_id=merchant_id, till_key_id=till_key_id, at=now))
    # Old misses are of no use to the throttle: keep the table small.
    session.execute(
        sa.delete(SpendCodeMiss)
        .where(SpendCodeMiss.at < now - timedelta(days=1))
        .execution_options(synchronize_session=False)
    )
    session.flush()
    since = now - MISS_WINDOW
    subject: tuple[str, int, int, int] | None = None
    shop_misses = _misses_since(session, since, merchant_id=merchant_id)
    if shop_misses >= MAX_MISSES_PER_SHOP:
        subject = ("merchant", merchant_id, shop_misses, MAX_MISSES_PER_SHOP)
    if till_key_id is not None:
        till_misses = _misses_since(session, since, till_key_id=till_key_id)
        if till_misses >= MAX_MISSES_PER_TILL:
            subject = ("till_key", till_key_id, till_misses, MAX_MISSES_PER_TILL)
    if subject is None:
        return
    subject_type, subject_id, misses, limit = subject
    merchant = session.get_one(Merchant, merchant_id)
    scheme = session.get_one(Scheme, merchant.scheme_id)
    finding = fraud.Finding(
        fraud.Rule.SPEND_CODE_GUESSING, subject_type, subject_id, merchant_id,
        f"a till of {merchant.name} looked up {misses} spend codes that do not exist "
        f"within {MISS_WINDOW.seconds // 60} minutes",
        {"misses": misses, "limit": limit, "minutes": MISS_WINDOW.seconds // 60},
    )
    # Unique per rule, subject and day: the misses after the limit add no flag.
    fraud.raise_flag(session, scheme.id, finding, now.astimezone(ZoneInfo(scheme.timezone)).date(),
                     now)


def display_status(redemption: Redemption, now: datetime) -> str:
    """held / confirmed / expired / cancelled, as the shopper and the till see it."""
    if redemption.status == RedemptionStatus.HELD:
        return "expired" if redemption.expires_at <= now else "held"
    if redemption.status == RedemptionStatus.RELEASED:
        return redemption.release_reason or "expired"
    return redemption.status


def _raise_for_status(redemption: Redemption, now: datetime) -> None:
    status = display_status(redemption, now)
    if status == RedemptionStatus.CONFIRMED:
        raise AlreadyUsed("this code was already used", code="already_used")
    if status == "cancelled":
        raise Conflict("the shopper cancelled this code", code="code_cancelled")
    if status == "expired":
        raise Gone("this code has expired", code="code_expired")


def confirm_redemption(
    session: Session, code: str, merchant: Merchant, now: datetime,
    *, till_key_id: int | None = None,
) -> Redemption:
    """A shop accepts a code: the held points become the shop's, exactly once.

    Raises NotFound, Forbidden (also: the wallet is frozen), AlreadyUsed/Conflict (409),
    Gone (410), TooManyAttempts (429).
    """
    redemption = lookup_at_till(session, code, merchant, now, till_key_id=till_key_id)
    _raise_for_status(redemption, now)
    # A code made before the municipality froze the wallet is frozen with it.
    wallets.ensure_usable(session.get_one(Wallet, redemption.wallet_id))
    if redemption.voucher_id is not None:
        voucher = session.get_one(Voucher, redemption.voucher_id)
        if voucher.merchant_id != merchant.id:
            raise Forbidden("this voucher can only be used at its own shop", code="wrong_shop")
    # Same guard as claims: one conditional UPDATE decides the race.
    won = session.execute(
        sa.update(Redemption)
        .where(
            Redemption.id == redemption.id,
            Redemption.status == RedemptionStatus.HELD,
            Redemption.expires_at > now,
        )
        .values(status=RedemptionStatus.CONFIRMED, merchant_id=merchant.id, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        session.refresh(redemption)
        _raise_for_status(redemption, now)
        raise AlreadyUsed("this code was already used", code="already_used")
    if redemption.voucher_id is not None:
        # The voucher's stamps were retired when the card filled up: no posting.
        stamps.finish_voucher(session, redemption.voucher_id, merchant, now)
        session.refresh(redemption)
        _tell_the_shop(session, redemption, merchant, now)
        return redemption
    legs: list[ledger.Leg] = []
    point_value: int | None = None
    if redemption.points:
        redeemed = ledger.account(
            session,
            merchant.scheme_id,
            AccountKind.MERCHANT_REDEEMED,
            Asset.POINTS,
            ledger.merchant_owner(merchant.id),
        )
        points_discount = redemption.discount_cents - redemption.euro_cents
        legs += [
            ledger.Leg(_holds_account(session, merchant.scheme_id), -redemption.points),
            ledger.Leg(redeemed, redemption.points),
            *accounts.redeem_legs(session, merchant.scheme_id, merchant.id, points_discount),
        ]
        # The discount was fixed when the code was made: price the points at it.
        point_value = points_discount // redemption.points
    if redemption.euro_cents:
        # The held euros become the shop's: the scheme owes it their value.
        legs += euros.spend_legs(
            session, merchant.scheme_id, merchant.id,
            _euro_holds_account(session, merchant.scheme_id), redemption.euro_cents,
        )
    txn_id = ledger.post(
        session,
        merchant.scheme_id,
        "redeem",
        legs,
        memo=f"redemption #{redemption.id}",
        at=now,
        point_value_cents=point_value,
    )
    _set_finish_transaction(session, redemption, txn_id)
    _tell_the_shop(session, redemption, merchant, now)
    return redemption


def _tell_the_shop(session: Session, redemption: Redemption, merchant: Merchant,
                   now: datetime) -> None:
    """The confirming shop's webhooks hear of it, in the confirm's transaction."""
    webhooks.enqueue(
        session, merchant.id, WebhookEvent.REDEMPTION_CONFIRMED, f"redemption:{redemption.id}",
        {"redemption_id": redemption.id, "merchant_id": merchant.id,
         "points": redemption.points, "euro_cents": redemption.euro_cents,
         "discount_cents": redemption.discount_cents, "voucher_id": redemption.voucher_id,
         "confirmed_at": now.isoformat()},
        now,
    )


def _set_finish_transaction(session: Session, redemption: Redemption, txn_id: int) -> None:
    session.execute(
        sa.update(Redemption)
        .where(Redemption.id == redemption.id)
        .values(finish_transaction_id=txn_id)
        .execution_options(synchronize_session=False)
    )
    session.refresh(redemption)


def _release(session: Session, redemption: Redemption, reason: str, now: datetime) -> bool:
    """Return a hold to its wallet; False if someone else finished it first."""
    stmt = (
        sa.update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.status == RedemptionStatus.HELD)
        .values(status=RedemptionStatus.RELEASED, release_reason=reason, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if reason == "expired":
        stmt = stmt.where(Redemption.expires_at <= now)
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        return False
    if redemption.voucher_id is not None:
        stamps.release_voucher(session, redemption.voucher_id)
        session.refresh(redemption)
        return True
    legs: list[ledger.Leg] = []
    if redemption.points:
        wallet_account = ledger.account(
            session,
            redemption.scheme_id,
            AccountKind.WALLET,
            Asset.POINTS,
            ledger.wallet_owner(redemption.wallet_id),
        )
        legs += [
            ledger.Leg(_holds_account(session, redemption.scheme_id), -redemption.points),
            ledger.Leg(wallet_account, redemption.points),
        ]
    if redemption.euro_cents:
        euro_account = ledger.account(
            session, redemption.scheme_id, AccountKind.WALLET, Asset.EUROS,
            ledger.wallet_owner(redemption.wallet_id),
        )
        legs += [
            ledger.Leg(_euro_holds_account(session, redemption.scheme_id), -redemption.euro_cents),
            ledger.Leg(euro_account, redemption.euro_cents),
        ]
    txn_id = ledger.post(
        session,
        redemption.scheme_id,
        "release",
        legs,
        memo=f"redemption #{redemption.id} {reason}",
        at=now,
    )
    _set_finish_transaction(session, redemption, txn_id)
    return True


def cancel_redemption(session: Session, wallet: Wallet, code: str, now: datetime) -> Redemption:
    """The shopper withdraws a code before use: the points go back. Raises 404/409/410."""
    redemption = get_redemption(session, code, wallet.scheme_id)
    if redemption.wallet_id != wallet.id:
        raise NotFound("no such spend code", code="unknown_code")
    if not _release(session, redemption, "cancelled", now):
        session.refresh(redemption)
        _raise_for_status(redemption, now)
    return redemption


def release_expired(session: Session, now: datetime, *, wallet_id: int | None = None) -> int:
    """Return every expired hold (of one wallet, or all) to its wallet; the count released."""
    stmt = sa.select(Redemption).where(
        Redemption.status == RedemptionStatus.HELD, Redemption.expires_at <= now
    )
    if wallet_id is not None:
        stmt = stmt.where(Redemption.wallet_id == wallet_id)
    released = 0
    for redemption in session.scalars(stmt.order_by(Redemption.id)).all():
        released += _release(session, redemption, "expired", now)
    return released
