"""Shop funding: a shop pays money in advance to its prepaid balance.

Two ways in. With Stripe configured, the owner tops up by Stripe Checkout
(card or Bancontact) and Stripe's ``checkout.session.completed`` webhook
credits the balance. Without Stripe (the demo default) the shop transfers
money to the municipality's account with a structured communication that
names the shop, and a municipality admin records the transfer.

Either way one prepayment is ``cash -x, merchant_prepaid +x`` in the ledger,
and the unique key of the prepayments table (scheme, method, reference)
decides that a payment is credited once, however often Stripe retries a
webhook or sends it twice at once: a repeat meets the row of the first and
posts nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import stripe
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.models import (
    AccountKind,
    FundingMethod,
    Merchant,
    Prepayment,
    Scheme,
    Settlement,
    SettlementLine,
    StaffUser,
)
from loyalty.money import accounts, ledger
from loyalty.oversight import audit

# What one top-up by Stripe may be, in euro cents (Stripe's own minimum is 0.50).
MIN_TOP_UP = 10_00
MAX_TOP_UP = 10_000_00
MAX_REFERENCE = 200
LEDGER_KIND = "prepayment"
# The events that may carry a paid Checkout Session (Bancontact can settle later).
PAID_SESSION_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)
CASH_ACCOUNTS = {FundingMethod.STRIPE: accounts.STRIPE, FundingMethod.BANK: accounts.BANK}


# -- recording a prepayment ------------------------------------------------------------


def record_prepayment(
    session: Session,
    merchant: Merchant,
    amount_cents: int,
    method: FundingMethod,
    reference: str,
    *,
    recorded_by_id: int | None = None,
) -> tuple[Prepayment, bool]:
    """Credit ``amount_cents`` to the shop's prepaid balance, once per reference.

    Returns the prepayment and whether this call credited it. A reference
    already recorded with the same shop and amount is the same payment
    reported again: nothing is posted. With another shop or amount it is a
    mistake (Conflict), never a second credit.
    """
    reference = reference.strip()
    if not reference or len(reference) > MAX_REFERENCE:
        raise InvalidInput(f"a reference of 1 to {MAX_REFERENCE} characters is required")
    if amount_cents <= 0:
        raise InvalidInput("the amount must be positive")
    payment = Prepayment(
        scheme_id=merchant.scheme_id,
        merchant_id=merchant.id,
        method=method,
        reference=reference,
        amount_cents=amount_cents,
        recorded_by_id=recorded_by_id,
    )
    # The insert decides. On PostgreSQL a concurrent delivery of the same
    # payment waits on the unique index until this transaction ends and then
    # fails here; on SQLite writers are serialised and the second one finds
    # the row. The savepoint keeps the caller's transaction usable.
    try:
        with session.begin_nested():
            session.add(payment)
    except sa.exc.IntegrityError:
        existing = session.scalar(
            sa.select(Prepayment).where(
                Prepayment.scheme_id == merchant.scheme_id,
                Prepayment.method == method,
                Prepayment.reference == reference,
            )
        )
        if existing is None:  # another constraint failed: not a repeat
            raise
        if existing.merchant_id != merchant.id or existing.amount_cents != amount_cents:
            raise Conflict(
                "this reference is already recorded for another payment",
                code="reference_already_used",
            ) from None
        return existing, False
    cash = accounts.scheme_account(
        session, merchant.scheme_id, AccountKind.CASH, CASH_ACCOUNTS[method]
    )
    prepaid = accounts.merchant_account(
        session, merchant.scheme_id, merchant.id, AccountKind.MERCHANT_PREPAID
    )
    txn_id = ledger.post(
        session,
        merchant.scheme_id,
        LEDGER_KIND,
        [ledger.Leg(cash, -amount_cents), ledger.Leg(prepaid, amount_cents)],
        memo=f"{method} {reference}"[:300],
    )
    payment.transaction_id = txn_id
    session.flush()
    return payment, True


def record_bank_transfer(
    session: Session,
    scheme_id: int,
    merchant_id: int,
    amount_cents: int,
    bank_reference: str,
    *,
    recorded_by_id: int,
) -> tuple[Prepayment, bool]:
    """A transfer seen on the municipality's bank statement, recorded by its admin."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None or merchant.scheme_id != scheme_id:
        raise NotFound("no such shop in this scheme")
    payment, created = record_prepayment(
        session,
        merchant,
        amount_cents,
        FundingMethod.BANK,
        bank_reference,
        recorded_by_id=recorded_by_id,
    )
    if created:
        audit.record(
            session, session.get(StaffUser, recorded_by_id), "funding.bank_transfer", merchant,
            {"amount_cents": amount_cents, "bank_reference": bank_reference},
        )
    return payment, created


def prepaid_balance(session: Session, merchant: Merchant) -> int:
    prepaid = accounts.merchant_account(
        session, merchant.scheme_id, merchant.id, AccountKind.MERCHANT_PREPAID
    )
    return ledger.balance(session, prepaid.id)


def prepayments_of(session: Session, merchant_id: int, limit: int = 100) -> Sequence[Prepayment]:
    """The shop's prepayments, newest first."""
    return session.scalars(
        sa.select(Prepayment)
        .where(Prepayment.merchant_id == merchant_id)
        .order_by(Prepayment.created_at.desc(), Prepayment.id.desc())
        .limit(limit)
    ).all()


def recent_bank_transfers(session: Session, scheme_id: int, limit: int = 20) -> Sequence[Any]:
    """The scheme's latest recorded bank transfers with their shop, newest first."""
    return session.execute(
        sa.select(Prepayment, Merchant.name)
        .join(Merchant, Merchant.id == Prepayment.merchant_id)
        .where(Prepayment.scheme_id == scheme_id, Prepayment.method == FundingMethod.BANK)
        .order_by(Prepayment.created_at.desc(), Prepayment.id.desc())
        .limit(limit)
    ).all()


# -- Belgian structured communication ("OGM/VCS") -----------------------------------------


def _check_digits(base: int) -> int:
    return base % 97 or 97


def structured_communication(merchant_id: int) -> str:
    """The communication a shop puts on its transfers: ``+++000/0001/23456+++``.

    Ten digits of the shop's id and two check digits (the ten-digit number
    modulo 97, or 97 when that is 0), as Belgian banks check them.
    """
    if not 0 < merchant_id < 10**10:
        raise ValueError("merchant id out of range")
    digits = f"{merchant_id:010d}{_check_digits(merchant_id):02d}"
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


def merchant_of_communication(text: str) -> int | None:
    """The shop id in a structured communication, or None if it is not a valid one.

    Accepts it as banks print it: ``+++000/0001/23456+++``, ``***...***`` or
    the twelve digits alone.
    """
    digits = re.sub(r"[\s+*/]", "", text)
    if not re.fullmatch(r"\d{12}", digits, re.ASCII):
        return None
    base, check = int(digits[:10]), int(digits[10:])
    if base == 0 or _check_digits(base) != check:
        return None
    return base


def merchant_for_communication(session: Session, scheme_id: int, text: str) -> int | None:
    """The shop a transfer's structured communication names, or None.

    A settlement's payment request asks for the debt's own reference (period
    and shop, loyalty.money.settlement.periods); a shop topping up its prepaid
    money uses its standing communication (``structured_communication``). The
    debt's reference is looked up first: the two forms are both twelve digits
    with mod-97 check digits.
    """
    digits = re.sub(r"[\s+*/]", "", text)
    if not re.fullmatch(r"\d{12}", digits, re.ASCII):
        return None
    debtor = session.scalar(
        sa.select(SettlementLine.merchant_id)
        .join(Settlement, Settlement.id == SettlementLine.settlement_id)
        .where(Settlement.scheme_id == scheme_id, SettlementLine.reference == digits)
        .limit(1)
    )
    if debtor is not None:
        return int(debtor)
    return merchant_of_communication(digits)


# -- Stripe Checkout ----------------------------------------------------------------------


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str
    # Only the tests set it: a local server that answers like Stripe's API.
    api_base: str | None = None

    def client(self) -> stripe.StripeClient:
        bases: Any = {"api": self.api_base} if self.api_base else None
        return stripe.StripeClient(self.secret_key, base_addresses=bases)


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


def client_reference(merchant: Merchant) -> str:
    return f"scheme-{merchant.scheme_id}-merchant-{merchant.id}"


def create_checkout(
    settings: StripeSettings,
    scheme: Scheme,
    merchant: Merchant,
    amount_cents: int,
    *,
    success_url: str,
    cancel_url: str,
    locale: str,
    product_name: str,
) -> Checkout:
    """A Stripe Checkout Session for a top-up of ``amount_cents``; the shop pays on its url.

    Nothing is credited here: only Stripe's signed webhook says the money came in.
    Raises InvalidInput for an amount out of bounds and stripe.StripeError
    when Stripe refuses or cannot be reached.
    """
    if not MIN_TOP_UP <= amount_cents <= MAX_TOP_UP:
        raise InvalidInput("top-up amount out of bounds")
    metadata = {"merchant_id": str(merchant.id), "scheme_id": str(scheme.id)}
    # A TypedDict in the library; a plain dict literal here.
    params: Any = {
        "mode": "payment",
        "payment_method_types": ["card", "bancontact"],
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": amount_cents,
                    "product_data": {"name": product_name},
                },
                "quantity": 1,
            }
        ],
        "client_reference_id": client_reference(merchant),
        "customer_email": merchant.email,
        "metadata": metadata,
        # Also on the payment, so it can be found from Stripe's payments list.
        "payment_intent_data": {"metadata": metadata},
        "locale": locale if locale in ("nl", "fr", "en") else "auto",
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    session = settings.client().v1.checkout.sessions.create(params=params)
    if not session.url:
        raise stripe.APIError("Stripe returned a Checkout Session without a url")
    return Checkout(id=session.id, url=session.url)


@dataclass(frozen=True)
class WebhookOutcome:
    credited: bool
    reason: str
    prepayment: Prepayment | None = None


def handle_event(session: Session, event: Mapping[str, Any]) -> WebhookOutcome:
    """Act on a verified Stripe event: credit a paid top-up, ignore everything else.

    The amount is the session's ``amount_total`` as Stripe charged it, never
    what we asked for. Raises InvalidInput for a paid session that names no
    shop of ours or is not in euro (Stripe then shows the delivery as failed).
    """
    event_type = event.get("type")
    if event_type not in PAID_SESSION_EVENTS:
        return WebhookOutcome(False, "ignored event type")
    obj = (event.get("data") or {}).get("object") or {}
    if obj.get("object") != "checkout.session":
        return WebhookOutcome(False, "not a checkout session")
    if obj.get("payment_status") != "paid":
        # Bancontact or a delayed method: async_payment_succeeded follows.
        return WebhookOutcome(False, "not paid yet")
    metadata = obj.get("metadata") or {}
    if "merchant_id" not in metadata:
        return WebhookOutcome(False, "not a top-up of this platform")
    try:
        merchant_id = int(metadata["merchant_id"])
        scheme_id = int(metadata.get("scheme_id", ""))
    except ValueError:
        raise InvalidInput("the session's metadata names no shop") from None
    merchant = session.get(Merchant, merchant_id)
    if merchant is None or merchant.scheme_id != scheme_id:
        raise InvalidInput(f"no shop {merchant_id} in scheme {scheme_id}")
    if obj.get("currency") != "eur":
        raise InvalidInput(f"top-up in {obj.get('currency')!r}, not eur")
    amount = obj.get("amount_total")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidInput("the session has no positive amount_total")
    session_id = obj.get("id")
    if not isinstance(session_id, str) or not session_id.startswith("cs_"):
        raise InvalidInput("the session has no Checkout Session id")
    payment, created = record_prepayment(
        session, merchant, amount, FundingMethod.STRIPE, session_id
    )
    return WebhookOutcome(created, "credited" if created else "already credited", payment)
