"""The bank accounts settlement pays to and from: checked IBANs, masked on screen,
changed only with the owner's password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from loyalty.errors import InvalidInput
from loyalty.infra import security
from loyalty.models import (
    Merchant,
    Scheme,
    StaffUser,
)
from loyalty.oversight import audit


@dataclass(frozen=True)
class BankAccount:
    iban: str
    bic: str
    holder: str


def check_bank_account(iban: str, bic: str | None, holder: str) -> BankAccount:
    """A checked IBAN (checksum, country format) and BIC (format; from the IBAN when
    it is left empty and the bank is known). Raises InvalidInput with code
    invalid_iban, invalid_bic, bic_needed or invalid_holder."""
    from schwifty import BIC, IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        checked = IBAN(iban or "")
    except SchwiftyException:
        raise InvalidInput("this is not a valid IBAN", code="invalid_iban") from None
    if not (bic or "").strip():
        derived = checked.bic
        if derived is None:
            raise InvalidInput("type the BIC of this bank account", code="bic_needed")
        bic_code = str(derived.compact)
    else:
        try:
            bic_code = str(BIC((bic or "").strip()).compact)
        except SchwiftyException:
            raise InvalidInput("this is not a valid BIC", code="invalid_bic") from None
    holder = " ".join((holder or "").split())
    if not holder or len(holder) > 70:
        raise InvalidInput("type the account holder's name (at most 70 characters)",
                           code="invalid_holder")
    return BankAccount(str(checked.compact), bic_code, holder)


def set_merchant_bank_account(
    session: Session, merchant: Merchant, iban: str, bic: str | None, holder: str
) -> BankAccount:
    """The account where the shop's payouts go. Raises InvalidInput (nothing changed)."""
    account = check_bank_account(iban, bic, holder)
    merchant.iban, merchant.bic, merchant.account_holder = account.iban, account.bic, account.holder
    session.flush()
    return account


def mask_iban(iban: str | None) -> str:
    """An IBAN as a notice shows it: the country, its check digits and the last four."""
    if not iban:
        return "-"
    return f"{iban[:4]} **** {iban[-4:]}"


@dataclass(frozen=True)
class BankChange:
    """A changed payout account, both IBANs masked."""

    old_iban: str
    new_iban: str


def change_merchant_bank_account(
    session: Session,
    merchant: Merchant,
    actor: StaffUser,
    password: str,
    iban: str,
    bic: str | None,
    holder: str,
    now: datetime,
) -> BankChange | None:
    """The owner's change of the shop's payout account (every field empty: none), audited.

    Whoever holds a signed-in session could otherwise send the shop's payouts to
    their own account, so it takes the password again. Returns None when nothing
    changed. Raises InvalidInput (the account's codes, or wrong_password).
    """
    new: tuple[str | None, str | None, str | None] = (None, None, None)
    if iban or bic or holder:
        account = check_bank_account(iban, bic, holder or merchant.name[:70])
        new = (account.iban, account.bic, account.holder)
    old_iban = merchant.iban
    if new == (old_iban, merchant.bic, merchant.account_holder):
        return None
    if not security.verify_password(actor.password_hash, password):
        raise InvalidInput("type your password to change the bank account",
                           code="wrong_password")
    merchant.iban, merchant.bic, merchant.account_holder = new
    session.flush()
    change = BankChange(mask_iban(old_iban), mask_iban(new[0]))
    audit.record(session, actor, "merchant.bank_account", merchant,
                 {"old_iban": change.old_iban, "new_iban": change.new_iban}, now=now)
    return change


def set_stripe_account(session: Session, merchant: Merchant, account: str | None) -> None:
    """The shop's Stripe connected account ("acct_..."), or None. Raises InvalidInput."""
    account = (account or "").strip() or None
    if account is not None and not re.fullmatch(r"acct_[A-Za-z0-9]{1,250}", account, re.ASCII):
        raise InvalidInput("a Stripe connected account id looks like acct_1Nv0FGQ9RKHgCVdK",
                           code="invalid_stripe_account")
    merchant.stripe_account_id = account
    session.flush()


def set_scheme_bank_account(session: Session, scheme: Scheme, iban: str, bic: str | None) -> None:
    """The municipality's account that SEPA payouts leave from. Raises InvalidInput."""
    account = check_bank_account(iban, bic, scheme.name[:70])
    scheme.iban, scheme.bic = account.iban, account.bic
    session.flush()
