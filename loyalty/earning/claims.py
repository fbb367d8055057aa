"""Earning: a till creates a single-use claim, a wallet collects its points once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import events
from loyalty.earning import campaigns
from loyalty.earning import stamps as stamp_cards
from loyalty.errors import (
    AlreadyUsed,
    Conflict,
    Forbidden,
    Gone,
    InsufficientBalance,
    InvalidInput,
    NotFound,
)
from loyalty.infra import security
from loyalty.infra.db import update_loaded
from loyalty.models import (
    AccountKind,
    Asset,
    Campaign,
    Claim,
    ClaimStatus,
    Merchant,
    MerchantStatus,
    Scheme,
    StampCard,
    Voucher,
    Wallet,
    WalletStatus,
    WebhookEvent,
)
from loyalty.money import accounts, ledger, social
from loyalty.shoppers import notifications, wallets
from loyalty.shops import webhooks
from loyalty.town.schemes import earn_rate_for

# EUR 5,000: a bound well above any local sale that still stops a typo of
# three extra zeros from minting a fortune in points.
MAX_SALE_CENTS = 500_000
MAX_TTL_SECONDS = 30 * 24 * 3600  # a printed receipt QR may live a month


class NewClaim:
    """A claim just made: its token (shown once) and, loaded on first use, its row."""

    __slots__ = ("id", "token", "_values", "_session", "_claim")

    def __init__(self, claim_id: int, values: dict[str, Any], token: str,
                 session: Session) -> None:
        self.id = claim_id
        self.token = token
        self._values = values
        self._session = session
        self._claim: Claim | None = None

    @property
    def points(self) -> int:
        return int(self._values["points"])

    @property
    def stamps(self) -> int:
        return int(self._values["stamps"])

    @property
    def amount_cents(self) -> int:
        return int(self._values["amount_cents"])

    @property
    def expires_at(self) -> datetime:
        expires: datetime = self._values["expires_at"]
        return expires

    @property
    def claim(self) -> Claim:
        """The ORM object (the till's pages and the tests use it; the API does not)."""
        if self._claim is None:
            self._claim = self._session.get_one(Claim, self.id)
        return self._claim


@dataclass(frozen=True)
class SaleShop:
    """The shop of a collected sale, as a campaign's cover needs it."""

    id: int
    scheme_id: int
    sector: str


@dataclass(frozen=True)
class Shop:
    """The shop whose sale was collected, as the shopper is told."""

    id: int
    name: str


@dataclass(frozen=True)
class ClaimResult:
    claim_id: int
    transaction_id: int | None  # None for a sale of stamps only
    merchant: Shop
    points_credited: int
    balance: int
    stamps_credited: int = 0
    vouchers: list[Voucher] = field(default_factory=list)
    # Campaign bonus, included in points_credited.
    bonus_points: int = 0
    # The social tariff's extra points, included in points_credited and paid by
    # the scheme; only the shopper's own answer may carry them, never the shop's.
    social_points: int = 0


class WalletLike(events.ShopperWallet, Protocol):
    """What collecting needs of a wallet: an ORM Wallet or the API's token lookup."""

    @property
    def scheme_id(self) -> int: ...

    @property
    def status(self) -> str: ...


def points_for(amount_cents: int, rate: int) -> int:
    """Points for a sale: ``rate`` points per *full* euro."""
    return (amount_cents // 100) * rate


@dataclass(frozen=True)
class SaleTerms:
    """What a new claim takes of its shop and scheme (a till key's lookup reads them)."""

    merchant_id: int
    scheme_id: int
    merchant_status: str
    earn_rate: int  # points per full euro: the shop's rate if above the scheme's
    claim_ttl_seconds: int  # the scheme's default

    @classmethod
    def of(cls, merchant: Merchant) -> SaleTerms:
        scheme = merchant.scheme
        return cls(merchant.id, merchant.scheme_id, merchant.status,
                   earn_rate_for(scheme, merchant), scheme.claim_ttl_seconds)


# Every sale at every till makes one: a Core insert, no ORM object (NewClaim
# loads one only if a page asks for it).
_INSERT_CLAIM = sa.insert(Claim).returning(Claim.id)


def create_claim(
    session: Session,
    shop: Merchant | SaleTerms,
    amount_cents: int,
    now: datetime,
    *,
    till_key_id: int | None = None,
    ttl_seconds: int | None = None,
    stamps: int = 0,
    stamp_card_id: int | None = None,
    token: str | None = None,
    expires_at: datetime | None = None,
) -> NewClaim:
    """A new open claim for a sale: points, stamps or both. Raises Forbidden, InvalidInput.

    ``token`` and ``expires_at``: a code the till already showed during an outage
    (earning.offline), collectable for longer than a code shown at the sale.
    """
    terms = shop if isinstance(shop, SaleTerms) else SaleTerms.of(shop)
    if terms.merchant_status != MerchantStatus.APPROVED:
        raise Forbidden("this shop is not approved to give points", code="merchant_not_approved")
    if not 0 <= amount_cents <= MAX_SALE_CENTS or (amount_cents == 0 and stamps == 0):
        raise InvalidInput(
            f"amount_cents must be between 1 and {MAX_SALE_CENTS}", code="amount_out_of_range"
        )
    if not 0 <= stamps <= stamp_cards.MAX_STAMPS_PER_SALE:
        raise InvalidInput(
            f"stamps must be between 0 and {stamp_cards.MAX_STAMPS_PER_SALE}",
            code="stamps_out_of_range",
        )
    card = stamp_cards.card_for_sale(session, terms.merchant_id, stamp_card_id) if stamps else None
    if ttl_seconds is None:
        ttl_seconds = terms.claim_ttl_seconds
    if not 30 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(f"ttl_seconds must be between 30 and {MAX_TTL_SECONDS}")
    points = points_for(amount_cents, terms.earn_rate)
    if points == 0 and stamps == 0:
        raise InvalidInput("a sale under one euro earns no points", code="no_points")
    if token is None:
        token = security.new_token()
    values: dict[str, Any] = {
        "scheme_id": terms.scheme_id,
        "merchant_id": terms.merchant_id,
        "till_key_id": till_key_id,
        "token_hash": security.token_hash(token),
        "amount_cents": amount_cents,
        "points": points,
        "stamps": stamps,
        "stamp_card_id": card.id if card else None,
        "status": ClaimStatus.OPEN.value,
        "created_at": now,
        "expires_at": expires_at or now + timedelta(seconds=ttl_seconds),
    }
    session.flush()  # the shop, stamp card or till key may be new in this transaction
    claim_id = session.connection().execute(_INSERT_CLAIM, values).scalar_one()
    return NewClaim(claim_id, values, token, session)


def get_claim(session: Session, token: str) -> Claim:
    claim = session.scalar(sa.select(Claim).where(Claim.token_hash == security.token_hash(token)))
    if claim is None:
        raise NotFound("no such claim", code="unknown_claim")
    return claim


def display_status(claim: Claim, now: datetime) -> str:
    """open / claimed / expired / cancelled, as the till and the shopper see it."""
    if claim.status == ClaimStatus.OPEN and claim.expires_at <= now:
        return "expired"
    return claim.status


def _raise_for_status(claim: Claim, now: datetime) -> None:
    status = display_status(claim, now)
    if status == ClaimStatus.CLAIMED:
        raise AlreadyUsed("these points were already collected", code="already_claimed")
    if status == ClaimStatus.CANCELLED:
        raise Conflict("the shop cancelled this sale", code="claim_cancelled")
    if status == "expired":
        raise Gone("this code has expired", code="claim_expired")


def _guard(by: sa.orm.InstrumentedAttribute[Any]) -> sa.Update:
    """The conditional UPDATE that collects an open claim, naming it by ``by``.

    It checks the wallet as the write sees it, not as the token lookup read it
    (on SQLite in a read transaction of its own): a freeze committed in between
    stops the collect. So does a suspension of the claim's shop: its claims stay
    in circulation for up to a month.
    """
    return (
        sa.update(Claim)
        .where(
            by == sa.bindparam("claim"),
            Claim.scheme_id == sa.bindparam("scheme"),
            Claim.status == ClaimStatus.OPEN,
            Claim.expires_at > sa.bindparam("now"),
            sa.exists().where(
                Wallet.id == sa.bindparam("wallet"), Wallet.status != WalletStatus.FROZEN
            ),
            sa.exists().where(
                Merchant.id == Claim.merchant_id, Merchant.status == MerchantStatus.APPROVED
            ),
        )
        .values(status=ClaimStatus.CLAIMED, wallet_id=sa.bindparam("wallet"),
                claimed_at=sa.bindparam("now"))
        .returning(Claim.id, Claim.merchant_id, Claim.amount_cents, Claim.points, Claim.stamps,
                   Claim.stamp_card_id, Claim.created_at)
    )


# Collecting is the busiest write of the platform: Core statements, built once.
_COLLECT = {"token": _guard(Claim.token_hash), "id": _guard(Claim.id)}


def _shop_of_sale(sale_at: Any) -> list[Any]:
    """What the rest of the sale needs to know: the shop and its scheme, whether a
    campaign ran when the sale was rung up (the rule of ``campaigns.running_at``),
    and whether the shop's systems or the wallet asked to hear of it (so the
    outbox INSERTs run only when someone listens). Read from the shop joined with
    its scheme."""
    return [
        Merchant.name, Merchant.sector, Scheme.timezone, Scheme.point_value_cents,
        Scheme.social_multiplier_pct,
        sa.exists().where(Campaign.scheme_id == Merchant.scheme_id,
                          campaigns.running_at(sale_at)),
        webhooks.wanted(Merchant.id, WebhookEvent.CLAIM_COLLECTED),
        notifications.wanted(sa.bindparam("wallet"), notifications.POINTS),
    ]


# SQLite: the guard, then the shop in a query of its own. Not in the guard's
# RETURNING: SQLAlchemy writes the columns there without their tables, and a
# subquery's own columns of the same name (campaigns.scheme_id) would win.
_SHOP = (
    sa.select(*_shop_of_sale(sa.bindparam("sale_at", type_=Campaign.starts_at.type)))
    .join(Scheme, Scheme.id == Merchant.scheme_id)
    .where(Merchant.id == sa.bindparam("merchant_id"))
)


def _guard_with_shop(by: sa.orm.InstrumentedAttribute[Any]) -> sa.Select[Any]:
    """PostgreSQL: the guard and the shop in one statement (a data-modifying WITH
    whose claimed row is joined to its shop): one round trip less per sale."""
    claimed = _guard(by).cte("claimed")
    return (
        sa.select(*claimed.c, *_shop_of_sale(claimed.c.created_at))
        .select_from(claimed)
        .join(Merchant, Merchant.id == claimed.c.merchant_id)
        .join(Scheme, Scheme.id == Merchant.scheme_id)
    )


_COLLECT_WITH_SHOP = {"token": _guard_with_shop(Claim.token_hash),
                      "id": _guard_with_shop(Claim.id)}


def _link_claim(transaction_id: sa.ColumnElement[int]) -> sa.Update:
    """The claim names the transaction that paid it (run along with the posting)."""
    return (
        sa.update(Claim)
        .where(Claim.id == sa.bindparam("paid_claim_id"))
        .values(transaction_id=transaction_id)
    )


def claim_points(session: Session, token: str, wallet: WalletLike, now: datetime) -> ClaimResult:
    """Credit a claim's points to a wallet, exactly once however many wallets race.

    Raises NotFound, Forbidden, AlreadyUsed/Conflict (409), Gone (410).
    """
    return _collect(
        session, "token", security.token_hash(token), wallet, now,
        lambda: get_claim(session, token),
    )


def collect(session: Session, claim: Claim, wallet: WalletLike, now: datetime) -> ClaimResult:
    """Credit a known claim to a wallet (a phone's scan, or a printed card at the till).

    Raises Forbidden, AlreadyUsed/Conflict (409), Gone (410).
    """
    return _collect(session, "id", claim.id, wallet, now, lambda: claim)


def _collect(
    session: Session,
    by: str,
    claim_key: str | int,
    wallet: WalletLike,
    now: datetime,
    find_claim: Callable[[], Claim],
) -> ClaimResult:
    session.flush()  # e.g. a wallet made in this request, before statements name it
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    # The conditional UPDATE is the guard: only one transaction can move the
    # row from open to claimed. On PostgreSQL a racing UPDATE waits for the
    # winner to commit, re-reads the row and matches nothing; on SQLite writers
    # are serialised by BEGIN IMMEDIATE. The loser raises and rolls back.
    # A frozen wallet does not even try; the refusal says why in the order
    # unknown claim, other scheme, frozen wallet, then the claim's status.
    row = None
    guarded = {"claim": claim_key, "scheme": wallet.scheme_id, "now": now, "wallet": wallet.id}
    if wallet.status != WalletStatus.FROZEN:
        guard = _COLLECT_WITH_SHOP[by] if postgres else _COLLECT[by]
        row = connection.execute(guard, guarded).first()
    if row is None:
        _refuse(session, find_claim(), wallet, now)
    claim_id, merchant_id, amount_cents, points, stamps, stamp_card_id, sale_at = row[:7]
    scheme_id = wallet.scheme_id
    shop_row = row[7:] if postgres else connection.execute(
        _SHOP, {"merchant_id": merchant_id, "sale_at": sale_at, "wallet": wallet.id}
    ).one()
    (name, sector, timezone, point_value, social_pct, campaigns_running, shop_listens,
     wallet_listens) = shop_row
    txn_id: int | None = None
    bonus, campaign_id, extra = 0, None, 0
    event_written = False
    if points:
        wallet_account = wallets.points_account(session, wallet)
        legs = [
            ledger.Leg(
                ledger.account(session, scheme_id, AccountKind.MERCHANT_ISSUED, Asset.POINTS,
                                   ledger.merchant_owner(merchant_id)),
                -points,
            ),
            ledger.Leg(wallet_account, points),
            *accounts.earn_legs(session, scheme_id, merchant_id, points, point_value),
        ]
        memo = f"claim #{claim_id}"
        # The claim's link to its transaction, and (when no campaign can change
        # the points it records) the sale's event, go along with the posting.
        along = [ledger.Along(_link_claim, {"paid_claim_id": claim_id})]
        if amount_cents and not campaigns_running:
            sale = events.Sale(scheme_id, timezone, merchant_id, sector, amount_cents, points)
            along.append(ledger.Along(events.purchase_insert,
                                      events.purchase_params(session, sale, wallet, now)))
            event_written = True

        def post(legs: list[ledger.Leg]) -> tuple[int, int, int | None]:
            if campaigns_running:
                # One transaction for the base points and any campaign bonus; the
                # campaign's budget decides in the database whether it can still pay.
                shop = SaleShop(merchant_id, scheme_id, sector)
                earned = campaigns.post_earn(
                    session, shop, legs, points, wallet_account.id, point_value, sale_at, memo,
                    at=now, along=along,
                )
                return earned.transaction_id, earned.bonus_points, earned.campaign_id
            return ledger.post(session, scheme_id, "earn", legs, memo=memo,
                               point_value_cents=point_value, at=now, along=along), 0, None

        if social_pct > 100 and social.entitled_until(
            session, wallet.id, now.astimezone(ZoneInfo(timezone)).date()
        ):
            # The social tariff's extra points ride in the same transaction, paid
            # from the social budget; when it cannot pay, the sale is posted without.
            extra = social.extra_points(points, social_pct)
        if extra:
            try:
                with session.begin_nested():
                    txn_id, bonus, campaign_id = post(legs + social.extra_legs(
                        session, scheme_id, wallet_account, extra, point_value))
            except InsufficientBalance:
                extra = 0
        if not extra:
            txn_id, bonus, campaign_id = post(legs)
    # A Claim object the session holds (a till's printed-card sale) learns what
    # the guard wrote behind the ORM's back.
    update_loaded(session, Claim, claim_id, status=ClaimStatus.CLAIMED.value,
                  wallet_id=wallet.id, claimed_at=now, transaction_id=txn_id)
    vouchers: list[Voucher] = []
    if stamps and stamp_card_id is not None:
        card = session.get_one(StampCard, stamp_card_id)
        vouchers = stamp_cards.give_stamps(
            session, card, session.get_one(Wallet, wallet.id), stamps, now
        )
    if points + bonus:
        # Only a wallet that asked to hear of its points gets an outbox row; the
        # worker sends it after this transaction commits (never inside the sale).
        notifications.enqueue(session, scheme_id, wallet.id, notifications.POINTS,
                              str(claim_id), {"points": points + bonus, "shop": name}, now,
                              wanted=wallet_listens)
    if amount_cents and not event_written:
        sale = events.Sale(scheme_id, timezone, merchant_id, sector, amount_cents,
                           points + bonus, campaign_id)
        events.record_purchase(session, sale, wallet, now)
    # The shop's own systems hear of it, in this transaction (the outbox): only
    # if the collect commits. Never who collected it.
    webhooks.enqueue(session, merchant_id, WebhookEvent.CLAIM_COLLECTED, f"claim:{claim_id}", {
        "claim_id": claim_id, "merchant_id": merchant_id, "amount_cents": amount_cents,
        "points": points + bonus, "bonus_points": bonus, "stamps": stamps,
        "collected_at": now.isoformat(),
    }, now, wanted=shop_listens)
    return ClaimResult(
        claim_id=claim_id,
        transaction_id=txn_id,
        merchant=Shop(merchant_id, name),
        points_credited=points + bonus + extra,
        bonus_points=bonus,
        social_points=extra,
        balance=wallets.points_balance(session, wallet),
        stamps_credited=stamps,
        vouchers=vouchers,
    )


def _refuse(session: Session, claim: Claim, wallet: WalletLike, now: datetime) -> NoReturn:
    """Why a claim cannot be collected by this wallet (the guard matched nothing)."""
    if claim.scheme_id != wallet.scheme_id:
        raise Forbidden("this code belongs to another municipality's scheme", code="wrong_scheme")
    stored = session.get_one(Wallet, wallet.id)
    session.refresh(stored, ["status"])  # frozen since the token was looked up?
    wallets.ensure_usable(stored)
    session.refresh(claim)
    _raise_for_status(claim, now)
    shop = session.get_one(Merchant, claim.merchant_id)
    session.refresh(shop, ["status"])
    if shop.status != MerchantStatus.APPROVED:
        raise Forbidden("this shop may no longer give points", code="merchant_not_approved")
    raise AlreadyUsed("these points were already collected", code="already_claimed")


def cancel_claim(session: Session, claim: Claim, now: datetime) -> None:
    """The till withdraws an open claim. Raises AlreadyUsed, Conflict, Gone."""
    won = session.execute(
        sa.update(Claim)
        .where(Claim.id == claim.id, Claim.status == ClaimStatus.OPEN)
        .values(status=ClaimStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(claim)
    if won != 1:
        _raise_for_status(claim, now)
