"""Stamp cards: stamps are a ledger asset per card; a full card becomes a voucher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Forbidden, Gone, InvalidInput, NotFound
from loyalty.models import (
    Account,
    AccountKind,
    Merchant,
    StampCard,
    Voucher,
    VoucherStatus,
    Wallet,
    stamp_asset,
)
from loyalty.money import ledger

MAX_STAMPS_PER_SALE = 20


def create_card(
    session: Session,
    merchant: Merchant,
    *,
    name: str,
    stamps_needed: int,
    reward: str,
    voucher_valid_days: int | None = None,
) -> StampCard:
    """A new stamp card for a shop, with its stamp accounts. Raises InvalidInput."""
    if not name.strip() or not reward.strip():
        raise InvalidInput("a stamp card needs a name and a reward")
    if not 2 <= stamps_needed <= 50:
        raise InvalidInput("stamps_needed must be between 2 and 50")
    if voucher_valid_days is not None and voucher_valid_days <= 0:
        raise InvalidInput("voucher_valid_days must be positive")
    card = StampCard(
        scheme_id=merchant.scheme_id,
        merchant_id=merchant.id,
        name=name.strip(),
        stamps_needed=stamps_needed,
        reward=reward.strip(),
        voucher_valid_days=voucher_valid_days,
    )
    session.add(card)
    # Flush for the card id that names the stamp asset.
    session.flush()
    owner = ledger.merchant_owner(merchant.id)
    for kind in (AccountKind.MERCHANT_ISSUED, AccountKind.MERCHANT_REDEEMED):
        ledger.open_account(
            session, merchant.scheme_id, kind, card.asset, owner,
            merchant_id=merchant.id,
        )
    session.flush()
    return card


def cards_of(session: Session, merchant_id: int) -> list[StampCard]:
    return list(
        session.scalars(
            sa.select(StampCard)
            .where(StampCard.merchant_id == merchant_id, StampCard.active.is_(True))
            .order_by(StampCard.id)
        )
    )


def card_for_sale(session: Session, merchant_id: int, card_id: int | None) -> StampCard:
    """The card a sale's stamps go on: the named one, or the shop's only active card."""
    cards = cards_of(session, merchant_id)
    if card_id is not None:
        for card in cards:
            if card.id == card_id:
                return card
        raise InvalidInput("this shop has no such active stamp card", code="unknown_stamp_card")
    if len(cards) != 1:
        raise InvalidInput(
            "name the stamp card (stamp_card_id)" if cards else "this shop has no stamp card",
            code="stamp_card_required",
        )
    return cards[0]


def _wallet_account(session: Session, wallet: Wallet, card: StampCard) -> ledger.AccountRef:
    owner = ledger.wallet_owner(wallet.id)
    try:
        return ledger.account(
            session, wallet.scheme_id, AccountKind.WALLET, card.asset, owner
        )
    except LookupError:
        pass
    # First stamp of this card for this wallet. Two sales may race to open the
    # account: the unique (scheme, kind, asset, owner) key lets one win, and
    # the savepoint lets the other carry on with the winner's account.
    try:
        with session.begin_nested():
            ledger.open_account(
                session, wallet.scheme_id, AccountKind.WALLET, card.asset,
                owner, wallet_id=wallet.id,
            )
    except sa.exc.IntegrityError:
        pass
    return ledger.account(
        session, wallet.scheme_id, AccountKind.WALLET, card.asset, owner
    )


def give_stamps(
    session: Session, card: StampCard, wallet: Wallet, stamps: int, now: datetime
) -> list[Voucher]:
    """Put stamps on a wallet's card; every full card becomes a voucher."""
    owner = ledger.merchant_owner(card.merchant_id)
    issued = ledger.account(
        session, card.scheme_id, AccountKind.MERCHANT_ISSUED, card.asset, owner
    )
    retired = ledger.account(
        session, card.scheme_id, AccountKind.MERCHANT_REDEEMED, card.asset, owner
    )
    account = _wallet_account(session, wallet, card)
    ledger.post(
        session, card.scheme_id, "stamp",
        [ledger.Leg(issued, -stamps), ledger.Leg(account, stamps)],
        memo=f"stamp card #{card.id}",
        at=now,
    )
    vouchers = []
    while ledger.balance(session, account.id) >= card.stamps_needed:
        txn_id = ledger.post(
            session, card.scheme_id, "voucher",
            [ledger.Leg(account, -card.stamps_needed), ledger.Leg(retired, card.stamps_needed)],
            memo=f"full stamp card #{card.id}",
            at=now,
        )
        voucher = Voucher(
            scheme_id=card.scheme_id,
            wallet_id=wallet.id,
            stamp_card_id=card.id,
            merchant_id=card.merchant_id,
            status=VoucherStatus.AVAILABLE,
            created_at=now,
            expires_at=(
                now + timedelta(days=card.voucher_valid_days) if card.voucher_valid_days else None
            ),
            transaction_id=txn_id,
        )
        session.add(voucher)
        vouchers.append(voucher)
    session.flush()
    return vouchers


@dataclass(frozen=True)
class CardProgress:
    card_id: int
    name: str
    merchant: str
    stamps: int
    stamps_needed: int
    reward: str


def wallet_cards(session: Session, wallet: Wallet) -> list[CardProgress]:
    """The stamp cards this wallet has stamps on (or had: an empty card after a voucher)."""
    rows = session.execute(
        sa.select(StampCard, Merchant.name, Account.balance)
        .join(Merchant, Merchant.id == StampCard.merchant_id)
        .join(
            Account,
            sa.and_(
                Account.wallet_id == wallet.id,
                Account.asset == sa.literal("stamps:") + sa.cast(StampCard.id, sa.String),
            ),
        )
        .order_by(StampCard.id)
    ).all()
    return [
        CardProgress(card.id, card.name, shop, balance, card.stamps_needed, card.reward)
        for card, shop, balance in rows
    ]


def vouchers_of(session: Session, wallet: Wallet, now: datetime) -> list[tuple[Voucher, str, str]]:
    """Available vouchers with their reward and shop name."""
    return [
        (voucher, reward, shop)
        for voucher, reward, shop in session.execute(
            sa.select(Voucher, StampCard.reward, Merchant.name)
            .join(StampCard, StampCard.id == Voucher.stamp_card_id)
            .join(Merchant, Merchant.id == Voucher.merchant_id)
            .where(
                Voucher.wallet_id == wallet.id,
                Voucher.status == VoucherStatus.AVAILABLE,
                sa.or_(Voucher.expires_at.is_(None), Voucher.expires_at > now),
            )
            .order_by(Voucher.created_at)
        ).all()
    ]


def hold_voucher(session: Session, wallet: Wallet, voucher_id: int, now: datetime) -> Voucher:
    """Set a voucher aside for a spend code. Raises NotFound, Gone, Conflict."""
    from loyalty.errors import Conflict

    voucher = session.get(Voucher, voucher_id)
    if voucher is None or voucher.wallet_id != wallet.id:
        raise NotFound("no such voucher", code="unknown_voucher")
    if voucher.expires_at is not None and voucher.expires_at <= now:
        raise Gone("this voucher has expired", code="voucher_expired")
    held = session.execute(
        sa.update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.status == VoucherStatus.AVAILABLE)
        .values(status=VoucherStatus.HELD)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if held != 1:
        raise Conflict("this voucher is already used or behind another code", code="voucher_busy")
    session.refresh(voucher)
    return voucher


def finish_voucher(session: Session, voucher_id: int, merchant: Merchant, now: datetime) -> None:
    """The voucher's own shop takes it. Raises Forbidden for any other shop."""
    voucher = session.get_one(Voucher, voucher_id)
    if voucher.merchant_id != merchant.id:
        raise Forbidden("this voucher can only be used at its own shop", code="wrong_shop")
    session.execute(
        sa.update(Voucher)
        .where(Voucher.id == voucher_id, Voucher.status == VoucherStatus.HELD)
        .values(status=VoucherStatus.USED, used_at=now)
        .execution_options(synchronize_session=False)
    )


def release_voucher(session: Session, voucher_id: int) -> None:
    session.execute(
        sa.update(Voucher)
        .where(Voucher.id == voucher_id, Voucher.status == VoucherStatus.HELD)
        .values(status=VoucherStatus.AVAILABLE)
        .execution_options(synchronize_session=False)
    )


__all__ = ["stamp_asset"]
