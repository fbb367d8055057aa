"""Bought town money: wallet top-ups and gift vouchers (cadeaubonnen).

Money paid in (by Stripe Checkout or by bank transfer) becomes euros in a
wallet at once (a top-up), or waits in the scheme's vouchers account behind
a code until someone redeems the code into a wallet or spends it at a till.
Each flow is one balanced ledger transaction (see docs/money.md):

===================  ===========================  =====================================
flow                 euros                        eur_cents
===================  ===========================  =====================================
top-up paid          euros issued -x, wallet +x   cash (stripe) -x, euros liability +x
voucher sold         (none)                       cash (stripe or bank) -x, vouchers +x
voucher redeemed     euros issued -x, wallet +x   vouchers -x, euros liability +x
voucher at a till R  euros issued -x, R redeemed  vouchers -x, R position +x
===================  ===========================  =====================================

Exactly once, decided by the database: a paid Checkout Session has a unique
key on the wallet's euro credit (top-up) or on the voucher it paid; a code is
redeemed by ``UPDATE ... WHERE redeemed_at IS NULL`` and its euro credit has
a unique voucher key; an order's transfer is recorded by ``UPDATE ... WHERE
paid_at IS NULL``, and only the call that set it issues the codes.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from loyalty.models import (
    AccountKind,
    Asset,
    EuroCredit,
    EuroSource,
    GiftVoucher,
    GiftVoucherOrder,
    GiftVoucherSource,
    Merchant,
    MerchantStatus,
    Scheme,
    StaffUser,
    Wallet,
)
from loyalty.money import accounts, euros, funding, ledger
from loyalty.money.grants import valid_until
from loyalty.oversight import audit
from loyalty.shoppers import wallets

TOP_UP = "wallet_top_up"
GIFT = "gift_voucher"
PURPOSES = (TOP_UP, GIFT)
# No 0/O, 1/I/L: a printed code is typed by hand.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
MAX_ORDER_QUANTITY = 1000
MAX_COMPANY_NAME = 200
VAT_RE = re.compile(r"[A-Z]{2}[0-9A-Z]{8,12}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL = 254
# The structured communications of orders are ten-digit numbers from here up,
# apart from a shop's (its id) so that one transfer never names both.
ORDER_BASE = 9_000_000_000


# -- the scheme's amounts and the vouchers account -----------------------------------


def allowed_amounts(scheme: Scheme) -> list[int]:
    return sorted(int(a) for a in (scheme.voucher_amounts_cents or []))


def check_amount(scheme: Scheme, amount_cents: Any) -> int:
    if isinstance(amount_cents, bool) or amount_cents not in allowed_amounts(scheme):
        raise InvalidInput(
            "amount_cents must be one of "
            + ", ".join(str(a) for a in allowed_amounts(scheme)),
            code="invalid_amount",
        )
    return int(amount_cents)


def vouchers_account(session: Session, scheme_id: int) -> ledger.AccountRef:
    """The scheme's account of money paid for codes not yet redeemed, opened at the first."""
    try:
        return accounts.scheme_account(session, scheme_id, AccountKind.VOUCHERS)
    except LookupError:
        pass
    # Two first sales may race to open it: the unique key lets one win.
    try:
        with session.begin_nested():
            ledger.open_account(
                session, scheme_id, AccountKind.VOUCHERS, Asset.EUR_CENTS, ledger.SCHEME_OWNER
            )
    except sa.exc.IntegrityError:
        pass
    return accounts.scheme_account(session, scheme_id, AccountKind.VOUCHERS)


def outstanding_cents(session: Session, scheme_id: int) -> int:
    return ledger.balance(session, vouchers_account(session, scheme_id).id)


# -- codes -------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """A code as typed or scanned: any case, with spaces or dashes, or a redeem link."""
    text = text.strip()
    if "code=" in text:  # the QR's link, pasted
        text = text.rsplit("code=", 1)[1].split("&", 1)[0]
    return re.sub(r"[\s-]", "", text).upper()


def display_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _issue(
    session: Session,
    scheme_id: int,
    amount_cents: int,
    source: GiftVoucherSource,
    transaction_id: int,
    now: datetime,
    **fields: Any,
) -> GiftVoucher:
    voucher = GiftVoucher(
        scheme_id=scheme_id, code=new_code(), amount_cents=amount_cents, source=source.value,
        created_at=now, expires_at=valid_until(now), transaction_id=transaction_id, **fields,
    )
    session.add(voucher)
    return voucher


# -- Stripe Checkout ----------------------------------------------------------------------


def create_checkout(
    settings: funding.StripeSettings,
    scheme: Scheme,
    amount_cents: int,
    *,
    purpose: str,
    wallet_id: int | None = None,
    recipient_email: str | None = None,
    success_url: str,
    cancel_url: str,
    locale: str,
    product_name: str,
) -> funding.Checkout:
    """A Checkout Session paying a top-up of a wallet or a gift voucher.

    Nothing is credited here: only Stripe's signed webhook says the money came
    in. Raises InvalidInput for an amount the scheme does not sell, and
    stripe.StripeError when Stripe refuses or cannot be reached.
    """
    check_amount(scheme, amount_cents)
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    if purpose == TOP_UP and wallet_id is None:
        raise ValueError("a top-up needs its wallet")
    if recipient_email is not None:
        recipient_email = check_email(recipient_email, "invalid_recipient_email")
    metadata = {"purpose": purpose, "scheme_id": str(scheme.id)}
    if wallet_id is not None:
        metadata["wallet_id"] = str(wallet_id)
    if recipient_email:
        metadata["recipient_email"] = recipient_email
    params: Any = {
        "mode": "payment",
        "payment_method_types": ["card", "bancontact"],
        "line_items": [{
            "price_data": {
                "currency": "eur", "unit_amount": amount_cents,
                "product_data": {"name": product_name},
            },
            "quantity": 1,
        }],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "locale": locale if locale in ("nl", "fr", "en") else "auto",
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    found = settings.client().v1.checkout.sessions.create(params=params)
    if not found.url:
        raise InvalidInput("Stripe returned a Checkout Session without a url")
    return funding.Checkout(id=found.id, url=found.url)


@dataclass(frozen=True)
class Paid:
    """What a paid Checkout Session of ours did: credited now, or already before."""

    credited: bool
    purpose: str
    amount_cents: int
    wallet_id: int | None = None
    voucher: GiftVoucher | None = None


def handle_event(session: Session, event: Mapping[str, Any], now: datetime) -> Paid | None:
    """Credit a paid top-up or voucher of a verified Stripe event, once per session.

    None for an event that is not about a top-up or voucher of ours. Raises
    InvalidInput for a paid session of ours that cannot be credited (Stripe
    then shows the delivery as failed).
    """
    if event.get("type") not in funding.PAID_SESSION_EVENTS:
        return None
    obj = (event.get("data") or {}).get("object") or {}
    metadata = obj.get("metadata") or {}
    purpose = metadata.get("purpose")
    if obj.get("object") != "checkout.session" or purpose not in PURPOSES:
        return None
    if obj.get("payment_status") != "paid":
        return Paid(False, purpose, 0)  # Bancontact: async_payment_succeeded follows
    try:
        scheme_id = int(metadata.get("scheme_id", ""))
    except ValueError:
        raise InvalidInput("the session's metadata names no scheme") from None
    scheme = session.get(Scheme, scheme_id)
    if scheme is None:
        raise InvalidInput(f"no scheme {scheme_id}")
    if obj.get("currency") != "eur":
        raise InvalidInput(f"paid in {obj.get('currency')!r}, not eur")
    amount = obj.get("amount_total")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidInput("the session has no positive amount_total")
    session_id = obj.get("id")
    if not isinstance(session_id, str) or not session_id.startswith("cs_"):
        raise InvalidInput("the session has no Checkout Session id")
    cash = accounts.scheme_account(session, scheme_id, AccountKind.CASH, accounts.STRIPE)
    if purpose == TOP_UP:
        try:
            wallet = session.get(Wallet, int(metadata.get("wallet_id", "")))
        except ValueError:
            wallet = None
        if wallet is None or wallet.scheme_id != scheme_id:
            raise InvalidInput("the session's metadata names no wallet of the scheme")
        credited = _credit_top_up(session, wallet, amount, cash, session_id, now)
        return Paid(credited, purpose, amount, wallet_id=wallet.id)
    voucher, created = _sell_voucher(
        session, scheme_id, amount, cash, session_id, metadata.get("recipient_email"), now
    )
    return Paid(created, purpose, amount, voucher=voucher)


def _credit_top_up(
    session: Session, wallet: Wallet, amount: int, cash: ledger.AccountRef, session_id: str,
    now: datetime,
) -> bool:
    target = euros.wallet_account(session, wallet)
    legs = euros.credit_legs(session, wallet.scheme_id, target, amount, cash)
    try:
        # The savepoint undoes the postings when another delivery of this
        # session got in first: the unique session key of the credit decides.
        with session.begin_nested():
            txn_id = ledger.post(session, wallet.scheme_id, "wallet_top_up", legs,
                                 memo=f"stripe {session_id}"[:300], at=now)
            session.add(EuroCredit(
                scheme_id=wallet.scheme_id, wallet_id=wallet.id,
                source=EuroSource.TOP_UP.value, amount_cents=amount, credited_at=now,
                expires_at=valid_until(now), transaction_id=txn_id,
                stripe_session_id=session_id,
            ))
            session.flush()  # the unique key decides here, inside the savepoint
    except sa.exc.IntegrityError:
        return False
    return True


def _sell_voucher(
    session: Session, scheme_id: int, amount: int, cash: ledger.AccountRef, session_id: str,
    recipient_email: str | None, now: datetime,
) -> tuple[GiftVoucher, bool]:
    held = vouchers_account(session, scheme_id)
    try:
        with session.begin_nested():
            txn_id = ledger.post(
                session, scheme_id, "voucher_sale",
                [ledger.Leg(cash, -amount), ledger.Leg(held, amount)],
                memo=f"stripe {session_id}"[:300], at=now,
            )
            voucher = _issue(session, scheme_id, amount, GiftVoucherSource.STRIPE, txn_id, now,
                             stripe_session_id=session_id, recipient_email=recipient_email)
            session.flush()  # the unique session key decides here
    except sa.exc.IntegrityError:
        return voucher_of_session(session, session_id), False  # type: ignore[return-value]
    return voucher, True


def voucher_of_session(session: Session, session_id: str) -> GiftVoucher | None:
    return session.scalar(
        sa.select(GiftVoucher).where(GiftVoucher.stripe_session_id == session_id)
    )


def top_up_of_session(session: Session, session_id: str) -> EuroCredit | None:
    return session.scalar(
        sa.select(EuroCredit).where(EuroCredit.stripe_session_id == session_id)
    )


# -- redeeming a code ---------------------------------------------------------------------


def find_voucher(session: Session, scheme_id: int | None, code: str) -> GiftVoucher:
    """The voucher of a code (in this scheme when given). Raises NotFound."""
    query = sa.select(GiftVoucher).where(GiftVoucher.code == normalise_code(code))
    if scheme_id is not None:
        query = query.where(GiftVoucher.scheme_id == scheme_id)
    voucher = session.scalar(query)
    if voucher is None:
        raise NotFound("no voucher with this code", code="unknown_voucher")
    return voucher


def _take(session: Session, voucher: GiftVoucher, now: datetime, **who: int) -> None:
    """Mark the code redeemed, if nobody did yet: the conditional UPDATE decides."""
    if voucher.redeemed_at is not None:
        raise Conflict("this voucher was already redeemed", code="already_redeemed")
    if now >= voucher.expires_at:
        raise Gone("this voucher has expired", code="voucher_expired")
    taken = session.execute(
        sa.update(GiftVoucher)
        .where(GiftVoucher.id == voucher.id, GiftVoucher.redeemed_at.is_(None))
        .values(redeemed_at=now, **who)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if taken != 1:
        raise Conflict("this voucher was already redeemed", code="already_redeemed")


@dataclass(frozen=True)
class Redeemed:
    voucher: GiftVoucher
    credit: EuroCredit
    euro_cents: int  # the wallet's euro balance after


def redeem(session: Session, code: str, wallet: Wallet, now: datetime) -> Redeemed:
    """Put a voucher's euros in a wallet of its scheme, once for all wallets.

    Raises NotFound (unknown_voucher, also another town's code), Conflict
    (already_redeemed), Gone (voucher_expired), Forbidden (wallet_frozen).
    """
    wallets.ensure_usable(wallet)
    voucher = find_voucher(session, wallet.scheme_id, code)
    target = euros.wallet_account(session, wallet)
    try:
        with session.begin_nested():
            _take(session, voucher, now, redeemed_wallet_id=wallet.id)
            legs = euros.credit_legs(session, wallet.scheme_id, target, voucher.amount_cents,
                                     vouchers_account(session, wallet.scheme_id))
            txn_id = ledger.post(session, wallet.scheme_id, "voucher_redeemed", legs,
                                 memo=f"voucher #{voucher.id}", at=now)
            credit = EuroCredit(
                scheme_id=wallet.scheme_id, wallet_id=wallet.id,
                source=EuroSource.VOUCHER.value, amount_cents=voucher.amount_cents,
                credited_at=now, expires_at=valid_until(now), transaction_id=txn_id,
                gift_voucher_id=voucher.id,
            )
            session.add(credit)
            session.flush()  # the unique voucher key backs the conditional UPDATE
    except sa.exc.IntegrityError:
        raise Conflict("this voucher was already redeemed", code="already_redeemed") from None
    session.refresh(voucher)
    return Redeemed(voucher, credit, euros.balance(session, wallet))


def spend_at_till(session: Session, code: str, merchant: Merchant, now: datetime) -> GiftVoucher:
    """A printed code taken as payment by a shop: its euros, all at once, exactly once.

    The shop is paid in the monthly settlement like euros from a wallet.
    Raises as ``redeem``, and Forbidden for a shop that is not approved.
    """
    if merchant.status != MerchantStatus.APPROVED:
        raise Forbidden("this shop is not approved", code="merchant_not_approved")
    voucher = find_voucher(session, merchant.scheme_id, code)
    scheme_id = merchant.scheme_id
    with session.begin_nested():
        _take(session, voucher, now, redeemed_merchant_id=merchant.id)
        amount = voucher.amount_cents
        ledger.post(
            session, scheme_id, "voucher_at_till",
            [
                ledger.Leg(ledger.account(session, scheme_id, AccountKind.EUROS_ISSUED,
                                          Asset.EUROS, ledger.SCHEME_OWNER), -amount),
                ledger.Leg(ledger.account(session, scheme_id, AccountKind.MERCHANT_REDEEMED,
                                          Asset.EUROS, ledger.merchant_owner(merchant.id)),
                           amount),
                ledger.Leg(vouchers_account(session, scheme_id), -amount),
                ledger.Leg(accounts.merchant_account(session, scheme_id, merchant.id,
                                                     AccountKind.MERCHANT_POSITION), amount),
            ],
            memo=f"voucher #{voucher.id}", at=now,
        )
    session.refresh(voucher)
    return voucher


# -- company orders ------------------------------------------------------------------------


def check_email(text: str, code: str = "invalid_email") -> str:
    text = text.strip()
    if len(text) > MAX_EMAIL or not EMAIL_RE.fullmatch(text):
        raise InvalidInput("not a valid e-mail address", code=code)
    return text


def create_order(
    session: Session,
    scheme: Scheme,
    *,
    company_name: str,
    vat_number: str,
    email: str,
    quantity: int,
    amount_cents: int,
    now: datetime,
) -> GiftVoucherOrder:
    """A company's order with its invoice's structured communication. Raises InvalidInput."""
    company_name = company_name.strip()
    if not company_name or len(company_name) > MAX_COMPANY_NAME:
        raise InvalidInput("a company name is required", code="invalid_company_name")
    vat = re.sub(r"[\s.]", "", vat_number).upper()
    if not VAT_RE.fullmatch(vat):
        raise InvalidInput("not a VAT number (like BE0123456789)", code="invalid_vat_number")
    email = check_email(email)
    if isinstance(quantity, bool) or not 1 <= quantity <= MAX_ORDER_QUANTITY:
        raise InvalidInput(f"order 1 to {MAX_ORDER_QUANTITY} vouchers", code="invalid_quantity")
    check_amount(scheme, amount_cents)
    # A random reference: not guessable from another company's invoice. Its
    # unique key makes a (most unlikely) repeat fail; then another is drawn.
    for _ in range(5):
        base = ORDER_BASE + secrets.randbelow(10**10 - ORDER_BASE)
        reference = re.sub(r"\D", "", funding.structured_communication(base))
        order = GiftVoucherOrder(
            scheme_id=scheme.id, company_name=company_name, vat_number=vat, email=email,
            quantity=quantity, amount_cents=amount_cents, reference=reference, created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(order)
        except sa.exc.IntegrityError:
            continue
        return order
    raise Conflict("no free reference, try again", code="try_again")


def communication(order: GiftVoucherOrder) -> str:
    """The invoice's ``+++123/4567/89012+++``."""
    r = order.reference
    return f"+++{r[:3]}/{r[3:7]}/{r[7:]}+++"


def get_order(session: Session, scheme_id: int, order_id: int) -> GiftVoucherOrder:
    order = session.get(GiftVoucherOrder, order_id)
    if order is None or order.scheme_id != scheme_id:
        raise NotFound("no such order", code="unknown_order")
    return order


def list_orders(session: Session, scheme_id: int) -> Sequence[GiftVoucherOrder]:
    return session.scalars(
        sa.select(GiftVoucherOrder).where(GiftVoucherOrder.scheme_id == scheme_id)
        .order_by(GiftVoucherOrder.created_at.desc(), GiftVoucherOrder.id.desc())
    ).all()


def record_transfer(
    session: Session,
    order: GiftVoucherOrder,
    bank_reference: str,
    *,
    recorded_by_id: int,
    now: datetime,
) -> bool:
    """The order's transfer seen on the bank statement: issue its codes, exactly once.

    Returns whether this call issued them (False: the order was paid already).
    """
    bank_reference = bank_reference.strip()
    if not bank_reference or len(bank_reference) > funding.MAX_REFERENCE:
        raise InvalidInput("a bank reference is required", code="invalid_bank_reference")
    # On PostgreSQL a second recording waits on the row until the first commits,
    # then matches nothing; on SQLite writers are serialised.
    paid = session.execute(
        sa.update(GiftVoucherOrder)
        .where(GiftVoucherOrder.id == order.id, GiftVoucherOrder.paid_at.is_(None))
        .values(paid_at=now, bank_reference=bank_reference, recorded_by_id=recorded_by_id)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if paid != 1:
        session.refresh(order)
        return False
    total = order.quantity * order.amount_cents
    cash = accounts.scheme_account(session, order.scheme_id, AccountKind.CASH, accounts.BANK)
    txn_id = ledger.post(
        session, order.scheme_id, "voucher_sale",
        [ledger.Leg(cash, -total), ledger.Leg(vouchers_account(session, order.scheme_id), total)],
        memo=f"order #{order.id} {bank_reference}"[:300], at=now,
    )
    session.execute(
        sa.update(GiftVoucherOrder).where(GiftVoucherOrder.id == order.id)
        .values(transaction_id=txn_id).execution_options(synchronize_session=False)
    )
    for _ in range(order.quantity):
        _issue(session, order.scheme_id, order.amount_cents, GiftVoucherSource.ORDER, txn_id,
               now, order_id=order.id)
    # Flush: the codes' unique key is checked before the caller commits.
    session.flush()
    audit.record(
        session, session.get(StaffUser, recorded_by_id), "vouchers.order_paid",
        session.get_one(Scheme, order.scheme_id),
        {"order": order.id, "total_cents": total, "bank_reference": bank_reference}, now=now,
    )
    session.refresh(order)
    return True


def order_vouchers(session: Session, order: GiftVoucherOrder) -> Sequence[GiftVoucher]:
    return session.scalars(
        sa.select(GiftVoucher).where(GiftVoucher.order_id == order.id).order_by(GiftVoucher.id)
    ).all()


def codes_csv(session: Session, order: GiftVoucherOrder, redeem_url: str) -> str:
    """One line a code: the code, its amount, until when, and the link its QR opens.

    ``redeem_url`` is the redeem page's address; the code is appended.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["code", "amount_eur", "valid_until", "redeem_url"])
    for v in order_vouchers(session, order):
        writer.writerow([
            display_code(v.code), f"{v.amount_cents / 100:.2f}",
            v.expires_at.date().isoformat(), f"{redeem_url}?code={v.code}",
        ])
    return out.getvalue()
