"""Monthly settlement: each shop's net position for a month, locked, paid and collected.

For a period (a calendar month in the scheme's time zone) the settlement takes
every ledger transaction of the scheme that was written before the month's end
and that no earlier settlement took: one conditional ``UPDATE ledger_transactions
SET settlement_id = :id WHERE settlement_id IS NULL AND created_at < :end``.
A transaction is therefore settled exactly once, and one committed after the
month was locked (even if it is dated inside the month) falls into the next
settlement. The postings themselves never change.

Per shop, from the euro legs on its position account (see loyalty.money.accounts):

    issued   = the value of the points it gave (earn transactions)
    redeemed = the discounts it gave with points (redemptions)
    fees     = the scheme's monthly fee
    net      = redeemed - issued - fees

plus what earlier settlements left open (``carried``: a payout that could not
be made for want of a bank account, or money the shop has not paid yet). The
settlement posts its own balanced transactions, marked with its id so that no
later settlement counts them as activity:

    fee                    position -fee, fees +fee
    prepaid applied        prepaid -y, position +y     (y = min(prepaid, owed))
    payout (due > 0)       position -due, cash:bank or cash:stripe +due
    collection             nothing yet: the position stays negative (a receivable)
                           until the shop pays; the shop is asked by e-mail, its
                           transfer becomes prepaid money, and the next
                           settlement applies it

where due = carried + net. So a shop's position, counted over settled
transactions, is always exactly what is still open after its last settlement.

Locking is the unique (scheme, period) key: of two settlements racing for one
month the database keeps one, and the loser answers with the winner's result.
"""

from __future__ import annotations

import io
import logging
import re
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405  (we write XML, we never parse any)
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.infra import csv_cells, mail, security
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    MerchantStatus,
    PayoutMethod,
    Posting,
    Scheme,
    Settlement,
    SettlementLine,
    StaffUser,
)
from loyalty.money import accounts, funding, ledger
from loyalty.oversight import audit

log = logging.getLogger(__name__)

PERIOD_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII)
# The settlement's own transactions: never part of a month's activity.
FEE, PREPAID, PAYOUT = "settlement_fee", "settlement_prepaid", "settlement_payout"
SETTLEMENT_KINDS = (FEE, PREPAID, PAYOUT)
SEPA_SCHEMA = "pain.001.001.03"
SEPA_NS = f"urn:iso:std:iso:20022:tech:xsd:{SEPA_SCHEMA}"

Progress = Callable[[str, int, int], None]


# -- periods and references ---------------------------------------------------------


def parse_period(period: str) -> tuple[int, int]:
    """(year, month) of "2026-11". Raises InvalidInput."""
    match = PERIOD_RE.fullmatch(period or "")
    if match is None or not 2000 <= int(match.group(1)) <= 2999:
        raise InvalidInput("period must be a month such as 2026-11", code="invalid_period")
    return int(match.group(1)), int(match.group(2))


def period_bounds(scheme: Scheme, period: str) -> tuple[datetime, datetime]:
    """The month as UTC instants [start, end), midnight to midnight in the scheme's zone."""
    year, month = parse_period(period)
    zone = ZoneInfo(scheme.timezone)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def structured_reference(period: str, merchant_id: int) -> str:
    """A Belgian structured communication (12 digits): yymm, the shop id, mod-97 check.

    The last two digits are the first ten modulo 97 (97 when that is 0).
    """
    year, month = parse_period(period)
    if not 0 < merchant_id < 1_000_000:
        raise ValueError("shop id does not fit a structured communication")
    base = int(f"{year % 100:02d}{month:02d}{merchant_id:06d}")
    return f"{base:010d}{base % 97 or 97:02d}"


def format_reference(reference: str) -> str:
    """+++123/4567/89012+++ as Belgian banks print it."""
    return f"+++{reference[:3]}/{reference[3:7]}/{reference[7:]}+++"


def reference_is_valid(reference: str) -> bool:
    digits = re.sub(r"[+/ ]", "", reference)
    if not re.fullmatch(r"\d{12}", digits, re.ASCII):
        return False
    return (int(digits[:10]) % 97 or 97) == int(digits[10:])


# -- bank accounts --------------------------------------------------------------------


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


# -- settling a month ------------------------------------------------------------------


@dataclass(frozen=True)
class SettleResult:
    settlement: Settlement
    created: bool  # False: the period was already locked, nothing changed


def find(session: Session, scheme_id: int, period: str) -> Settlement | None:
    return session.scalar(
        sa.select(Settlement).where(Settlement.scheme_id == scheme_id, Settlement.period == period)
    )


def get(session: Session, scheme_id: int, period: str) -> Settlement:
    parse_period(period)
    settlement = find(session, scheme_id, period)
    if settlement is None:
        raise NotFound(f"period {period} is not settled", code="not_settled")
    return settlement


def settlements_of(session: Session, scheme_id: int) -> list[Settlement]:
    return list(
        session.scalars(
            sa.select(Settlement)
            .where(Settlement.scheme_id == scheme_id)
            .order_by(Settlement.period.desc())
        )
    )


def lines_of(session: Session, settlement_id: int) -> list[SettlementLine]:
    return list(
        session.scalars(
            sa.select(SettlementLine)
            .where(SettlementLine.settlement_id == settlement_id)
            .order_by(SettlementLine.merchant_id)
        )
    )


def settle(
    session: Session,
    scheme: Scheme,
    period: str,
    now: datetime,
    *,
    stripe_payouts: bool = False,
    progress: Progress | None = None,
    actor: StaffUser | None = None,
) -> SettleResult:
    """Lock a month and post its fees, prepaid money applied and payouts.

    ``stripe_payouts``: Stripe is configured, so shops with a connected
    account are paid by Connect transfer (made by ``pay_by_stripe`` once the
    month is committed); without it they are paid by SEPA like the others.

    A rerun returns the locked result and changes nothing. Raises InvalidInput
    (bad period, month not over, no scheme bank account for SEPA payouts) and
    Conflict (a later month is already settled). The caller commits.
    """
    start, end = period_bounds(scheme, period)
    if end > now:
        raise InvalidInput(f"{period} is not over yet", code="period_not_over")
    existing = find(session, scheme.id, period)
    if existing is not None:
        return SettleResult(existing, False)
    later = session.scalar(
        sa.select(Settlement.period)
        .where(Settlement.scheme_id == scheme.id, Settlement.period > period)
        .limit(1)
    )
    if later is not None:
        # Its settlement already took everything before its end.
        raise Conflict(f"{later} is already settled; settle months in order",
                       code="later_period_settled")
    settlement = Settlement(
        scheme_id=scheme.id, period=period, starts_at=start, ends_at=end, created_at=now
    )
    try:
        with session.begin_nested():
            session.add(settlement)
    except sa.exc.IntegrityError:
        # A concurrent settlement of the same month committed first (on
        # PostgreSQL the insert waited for it): answer with its result.
        winner = find(session, scheme.id, period)
        if winner is None:
            raise
        return SettleResult(winner, False)
    session.execute(
        sa.update(LedgerTransaction)
        .where(
            LedgerTransaction.scheme_id == scheme.id,
            LedgerTransaction.settlement_id.is_(None),
            LedgerTransaction.created_at < end,
        )
        .values(settlement_id=settlement.id)
        .execution_options(synchronize_session=False)
    )
    activity = _activity(session, settlement.id)
    carried = _carried(session, scheme.id, settlement.id)
    open_ids = [mid for mid, cents in carried.items() if cents]
    merchants = session.scalars(
        sa.select(Merchant)
        .where(
            Merchant.scheme_id == scheme.id,
            sa.or_(
                Merchant.status == MerchantStatus.APPROVED,
                Merchant.id.in_(list(activity) + open_ids),
            ),
        )
        .order_by(Merchant.id)
    ).all()
    for done, merchant in enumerate(merchants, 1):
        issued, redeemed = activity.get(merchant.id, (0, 0))
        fee = scheme.monthly_fee_cents if merchant.status == MerchantStatus.APPROVED else 0
        session.add(_settle_shop(session, scheme, settlement, merchant, issued, redeemed, fee,
                                 carried.get(merchant.id, 0), stripe_payouts))
        if progress:
            progress("shops", done, len(merchants))
    session.flush()
    _write_sepa_file(session, scheme, settlement, now)
    # ``actor`` None: the command line (cron).
    audit.record(
        session, actor, "settlement.lock", scheme,
        {
            "period": period,
            "shops": len(merchants),
            "control_sum_cents": settlement.control_sum_cents,
        },
        now=now,
    )
    return SettleResult(settlement, True)


def _activity(session: Session, settlement_id: int) -> dict[int, tuple[int, int]]:
    """(issued, redeemed) cents per shop, from its position legs in the settled transactions.

    A reversal counts with the kind of what it reverses, so a reversed earn
    lowers what the shop issued.
    """
    reversed_txn = aliased(LedgerTransaction)
    kind = sa.func.coalesce(reversed_txn.kind, LedgerTransaction.kind)
    is_earn = kind == "earn"
    rows = session.execute(
        sa.select(
            Account.merchant_id,
            sa.func.sum(sa.case((is_earn, Posting.amount), else_=0)),
            sa.func.sum(sa.case((is_earn, 0), else_=Posting.amount)),
        )
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .outerjoin(reversed_txn, reversed_txn.id == LedgerTransaction.reverses_id)
        .where(
            LedgerTransaction.settlement_id == settlement_id,
            LedgerTransaction.kind.not_in(SETTLEMENT_KINDS),
            Account.kind == AccountKind.MERCHANT_POSITION,
        )
        .group_by(Account.merchant_id)
    ).all()
    return {int(mid): (-int(earned), int(other)) for mid, earned, other in rows}


def _carried(session: Session, scheme_id: int, settlement_id: int) -> dict[int, int]:
    """Per shop, what earlier settlements left open: its position legs in every
    transaction an earlier settlement took or posted."""
    rows = session.execute(
        sa.select(Account.merchant_id, sa.func.sum(Posting.amount))
        .join(Posting, Posting.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            Account.scheme_id == scheme_id,
            Account.kind == AccountKind.MERCHANT_POSITION,
            LedgerTransaction.settlement_id.is_not(None),
            LedgerTransaction.settlement_id != settlement_id,
        )
        .group_by(Account.merchant_id)
    ).all()
    return {mid: int(total) for mid, total in rows if mid is not None}


def _settle_shop(
    session: Session,
    scheme: Scheme,
    settlement: Settlement,
    merchant: Merchant,
    issued: int,
    redeemed: int,
    fee: int,
    carried: int,
    stripe_payouts: bool,
) -> SettlementLine:
    net = redeemed - issued - fee
    due = carried + net
    line = SettlementLine(
        settlement_id=settlement.id,
        merchant_id=merchant.id,
        issued_cents=issued,
        redeemed_cents=redeemed,
        fees_cents=fee,
        net_cents=net,
        carried_cents=carried,
        prepaid_applied_cents=0,
        payout_cents=0,
        collect_cents=0,
        payout_method=PayoutMethod.NONE,
        reference=structured_reference(settlement.period, merchant.id),
    )
    position = accounts.merchant_account(
        session, scheme.id, merchant.id, AccountKind.MERCHANT_POSITION
    )
    memo = f"settlement {settlement.period}"
    if fee:
        ledger.post(
            session, scheme.id, FEE,
            [ledger.Leg(position, -fee),
             ledger.Leg(accounts.scheme_account(session, scheme.id, AccountKind.FEES), fee)],
            memo=f"{memo}: monthly fee", settlement_id=settlement.id,
        )
    if due < 0:
        prepaid = accounts.merchant_account(
            session, scheme.id, merchant.id, AccountKind.MERCHANT_PREPAID
        )
        applied = min(ledger.balance(session, prepaid.id), -due)
        if applied > 0:
            # The conditional UPDATE in ledger.post refuses to overdraw the
            # prepaid account even if its balance changed since it was read.
            ledger.post(
                session, scheme.id, PREPAID,
                [ledger.Leg(prepaid, -applied), ledger.Leg(position, applied)],
                memo=f"{memo}: prepaid money applied", settlement_id=settlement.id,
            )
        line.prepaid_applied_cents = applied
        line.collect_cents = -due - applied
    elif due > 0:
        method, channel = _payout_channel(merchant, stripe_payouts)
        if method != PayoutMethod.NONE:
            ledger.post(
                session, scheme.id, PAYOUT,
                [ledger.Leg(position, -due),
                 ledger.Leg(accounts.scheme_account(session, scheme.id, AccountKind.CASH, channel),
                            due)],
                memo=f"{memo}: payout by {method}", settlement_id=settlement.id,
            )
            line.payout_cents = due
            line.payout_method = method
            if method == PayoutMethod.SEPA:
                line.iban, line.bic = merchant.iban, merchant.bic
                line.account_holder = merchant.account_holder or merchant.name[:70]
    return line


def _payout_channel(merchant: Merchant, stripe_payouts: bool) -> tuple[str, str]:
    """Stripe Connect when the shop has a connected account, else SEPA when its
    bank account checks out, else nothing: the position stays owed to the shop
    and the next settlement carries it forward."""
    if merchant.stripe_account_id and stripe_payouts:
        return PayoutMethod.STRIPE, accounts.STRIPE
    if merchant.iban and merchant.bic:
        try:
            check_bank_account(merchant.iban, merchant.bic, merchant.account_holder or "x")
        except InvalidInput:
            return PayoutMethod.NONE, ""
        return PayoutMethod.SEPA, accounts.BANK
    return PayoutMethod.NONE, ""


# -- the SEPA credit-transfer file ----------------------------------------------------


def euros(cents: int) -> str:
    """12345 -> "123.45" (the decimal notation of bank files)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _latin(text: str, limit: int) -> str:
    """The SEPA character set (Latin letters, digits, a few signs): accents dropped."""
    from text_unidecode import unidecode

    plain = re.sub(r"[^A-Za-z0-9/\-?:().,'+ ]", " ", unidecode(text))
    return " ".join(plain.split())[:limit] or "-"


def _write_sepa_file(session: Session, scheme: Scheme, settlement: Settlement,
                     now: datetime) -> None:
    lines = [
        line for line in lines_of(session, settlement.id)
        if line.payout_method == PayoutMethod.SEPA
    ]
    settlement.sepa_transfers = len(lines)
    settlement.control_sum_cents = sum(line.payout_cents for line in lines)
    if not lines:
        settlement.sepa_xml = None
        session.flush()
        return
    if not (scheme.iban and scheme.bic):
        raise InvalidInput(
            "the scheme has no bank account for SEPA payouts: set it first "
            "(loyalty scheme-bank)", code="scheme_bank_missing"
        )
    names = dict(session.execute(
        sa.select(Merchant.id, Merchant.name).where(
            Merchant.id.in_([line.merchant_id for line in lines]))
    ).all())
    settlement.sepa_xml = sepa_xml(scheme, settlement, lines, names, now)
    session.flush()


def sepa_xml(
    scheme: Scheme,
    settlement: Settlement,
    lines: list[SettlementLine],
    names: Mapping[int, str],
    now: datetime,
) -> str:
    """A pain.001.001.03 credit-transfer initiation, checked against its XSD.

    Each transfer carries the shop's Belgian structured communication
    (CdtrRefInf, type SCOR, issuer BBA), which Belgian banks show as +++.../...+++.
    """
    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, tag, attrs)
        if text is not None:
            element.text = text
        return element

    total = euros(sum(line.payout_cents for line in lines))
    count = str(len(lines))
    message_id = f"LS-{scheme.id}-{settlement.period}-{settlement.id}"
    local = now.astimezone(ZoneInfo(scheme.timezone))
    execution: date = (local + timedelta(days=1)).date()

    root = ET.Element("Document", {"xmlns": SEPA_NS})
    initiation = sub(root, "CstmrCdtTrfInitn")
    header = sub(initiation, "GrpHdr")
    sub(header, "MsgId", message_id)
    sub(header, "CreDtTm", local.replace(microsecond=0, tzinfo=None).isoformat())
    sub(header, "NbOfTxs", count)
    sub(header, "CtrlSum", total)
    sub(sub(header, "InitgPty"), "Nm", _latin(scheme.name, 70))
    info = sub(initiation, "PmtInf")
    sub(info, "PmtInfId", message_id)
    sub(info, "PmtMtd", "TRF")
    sub(info, "BtchBookg", "true")
    sub(info, "NbOfTxs", count)
    sub(info, "CtrlSum", total)
    sub(sub(sub(info, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    sub(info, "ReqdExctnDt", execution.isoformat())
    sub(sub(info, "Dbtr"), "Nm", _latin(scheme.name, 70))
    sub(sub(sub(info, "DbtrAcct"), "Id"), "IBAN", scheme.iban or "")
    sub(sub(sub(info, "DbtrAgt"), "FinInstnId"), "BIC", scheme.bic or "")
    sub(info, "ChrgBr", "SLEV")
    for line in lines:
        transfer = sub(info, "CdtTrfTxInf")
        sub(sub(transfer, "PmtId"), "EndToEndId", f"LS-{settlement.period}-{line.merchant_id}")
        sub(sub(transfer, "Amt"), "InstdAmt", euros(line.payout_cents), Ccy="EUR")
        sub(sub(sub(transfer, "CdtrAgt"), "FinInstnId"), "BIC", line.bic or "")
        sub(sub(transfer, "Cdtr"), "Nm",
            _latin(line.account_holder or names.get(line.merchant_id, ""), 70))
        sub(sub(sub(transfer, "CdtrAcct"), "Id"), "IBAN", line.iban or "")
        reference = sub(sub(sub(transfer, "RmtInf"), "Strd"), "CdtrRefInf")
        kind = sub(reference, "Tp")
        sub(sub(kind, "CdOrPrtry"), "Cd", "SCOR")
        sub(kind, "Issr", "BBA")
        sub(reference, "Ref", line.reference)
    ET.indent(root)
    xml = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    validate_sepa(xml)
    return xml.decode("utf-8")


def validate_sepa(xml: bytes) -> None:
    """Validate against the official pain.001.001.03 XSD (shipped with sepaxml).

    Raises ValueError with the validator's explanation.
    """
    import xmlschema
    from sepaxml import validation

    schema = xmlschema.XMLSchema(_schema_path(validation.__file__))
    errors = [str(error) for error in schema.iter_errors(xml.decode("utf-8"))]
    if errors:
        raise ValueError("the SEPA file does not match its XSD: " + errors[0])


def _schema_path(validation_module: str) -> str:
    from pathlib import Path

    return str(Path(validation_module).parent / "schemas" / f"{SEPA_SCHEMA}.xsd")


# -- statements ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementEntry:
    transaction_id: int
    at: datetime
    kind: str  # "earn", "redeem", "reversal", ...
    points: int  # points given (earn) or taken (redeem), positive
    cents: int  # the effect on the shop's position: earn negative, redeem positive


def statement_entries(session: Session, line: SettlementLine) -> list[StatementEntry]:
    """Every transaction of the settled month that moved this shop's position."""
    is_eur = Posting.asset == Asset.EUR_CENTS
    rows = session.execute(
        sa.select(
            LedgerTransaction.id,
            LedgerTransaction.created_at,
            LedgerTransaction.kind,
            sa.func.sum(sa.case((is_eur, 0), else_=Posting.amount)),
            sa.func.sum(sa.case((is_eur, Posting.amount), else_=0)),
        )
        .join(Posting, Posting.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == Posting.account_id)
        .where(
            LedgerTransaction.settlement_id == line.settlement_id,
            LedgerTransaction.kind.not_in(SETTLEMENT_KINDS),
            Account.merchant_id == line.merchant_id,
            sa.or_(
                Account.kind == AccountKind.MERCHANT_POSITION,
                (Posting.asset == Asset.POINTS)
                & Account.kind.in_([AccountKind.MERCHANT_ISSUED, AccountKind.MERCHANT_REDEEMED]),
            ),
        )
        .group_by(LedgerTransaction.id, LedgerTransaction.created_at, LedgerTransaction.kind)
        .order_by(LedgerTransaction.created_at, LedgerTransaction.id)
    ).all()
    return [
        StatementEntry(int(tid), at, kind, abs(int(points)), int(cents))
        for tid, at, kind, points, cents in rows
        if cents
    ]


@dataclass(frozen=True)
class Statement:
    scheme: Scheme
    settlement: Settlement
    line: SettlementLine
    merchant: Merchant
    entries: list[StatementEntry]


def statement(session: Session, settlement: Settlement, merchant_id: int) -> Statement:
    line = session.scalar(
        sa.select(SettlementLine).where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.merchant_id == merchant_id,
        )
    )
    if line is None:
        raise NotFound("this shop has no statement for this period", code="no_statement")
    return Statement(
        session.get_one(Scheme, settlement.scheme_id),
        settlement,
        line,
        session.get_one(Merchant, merchant_id),
        statement_entries(session, line),
    )


def _summary_rows(st: Statement) -> list[tuple[str, str]]:
    line = st.line
    rows = [
        ("issued", euros(line.issued_cents)),
        ("redeemed", euros(line.redeemed_cents)),
        ("fees", euros(line.fees_cents)),
        ("net", euros(line.net_cents)),
        ("carried", euros(line.carried_cents)),
        ("prepaid_applied", euros(line.prepaid_applied_cents)),
        ("payout", euros(line.payout_cents)),
        ("payout_method", line.payout_method),
        ("to_collect", euros(line.collect_cents)),
        ("reference", format_reference(line.reference)),
    ]
    return rows


def _local(st: Statement, at: datetime) -> str:
    return at.astimezone(ZoneInfo(st.scheme.timezone)).strftime("%Y-%m-%d %H:%M:%S")


def statement_csv(st: Statement) -> str:
    """The statement as CSV: one row per transaction, then the totals (euros, point decimal)."""
    out = io.StringIO()
    writer = csv_cells.Writer(out)
    writer.writerow(["shop", st.merchant.name])
    writer.writerow(["period", st.settlement.period])
    writer.writerow([])
    writer.writerow(["date", "kind", "transaction", "points", "euro"])
    for entry in st.entries:
        writer.writerow([_local(st, entry.at), entry.kind, entry.transaction_id, entry.points,
                         euros(entry.cents)])
    writer.writerow([])
    for name, value in _summary_rows(st):
        writer.writerow([name, value])
    return out.getvalue()


def statement_pdf(st: Statement) -> bytes:
    """The statement as a PDF (fpdf2), the same for every download of a locked month."""
    from fpdf import FPDF

    def text(value: str) -> str:
        # The PDF core fonts speak Latin-1 only.
        return value.encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF(format="A4")
    pdf.set_creation_date(st.settlement.created_at)
    pdf.set_title(f"Lokaal Sparen {st.settlement.period} {st.merchant.name}")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, text(f"{st.scheme.name} - Lokaal Sparen"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, text(f"Afrekening / Decompte / Statement {st.settlement.period}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, text(st.merchant.name), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (45, 30, 30, 30, 35)
    pdf.set_font("Helvetica", "B", 9)
    for width, head in zip(widths, ("date", "kind", "transaction", "points", "EUR"), strict=True):
        pdf.cell(width, 6, head, border="B", align="R" if head != "date" else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for entry in st.entries:
        values = (_local(st, entry.at), entry.kind, str(entry.transaction_id),
                  str(entry.points), euros(entry.cents))
        for i, (width, value) in enumerate(zip(widths, values, strict=True)):
            pdf.cell(width, 5, value, align="L" if i == 0 else "R")
        pdf.ln()
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for name, value in _summary_rows(st):
        pdf.cell(60, 6, name.replace("_", " "))
        pdf.cell(50, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# -- collections -----------------------------------------------------------------------


def payment_request_text(scheme: Scheme, merchant: Merchant, line: SettlementLine,
                         period: str) -> tuple[str, str]:
    """(subject, body) of the payment request, Dutch first, then French and English."""
    amount = euros(line.collect_cents).replace(".", ",")
    iban = scheme.iban or "-"
    # The shop's prepayment communication: the municipality records the
    # transfer as prepaid money (loyalty.money.funding) and the next settlement
    # applies it to this debt.
    ref = funding.structured_communication(merchant.id)
    subject = f"Lokaal Sparen {period}: te betalen / à payer EUR {amount}"
    # The shop's name is its own choice: never the first words of a message
    # (an invented name would read as the platform speaking), always quoted.
    name = f"“{merchant.name}”"
    body = (
        "Beste,\n\n"
        f"Na de afrekening van {period} is uw winkel {name} EUR {amount} verschuldigd aan "
        f"{scheme.name} (punten gegeven min punten ontvangen, na uw voorschot).\n"
        f"Gelieve over te schrijven naar {iban} met de gestructureerde mededeling {ref}.\n\n"
        "Bonjour,\n\n"
        f"Après le décompte de {period}, votre commerce {name} doit EUR {amount} à "
        f"{scheme.name}.\n"
        f"Veuillez virer ce montant sur {iban} avec la communication structurée {ref}.\n\n"
        "Hello,\n\n"
        f"After the settlement of {period} your shop {name} owes EUR {amount} to "
        f"{scheme.name}.\n"
        f"Please transfer it to {iban} with the structured reference {ref}.\n\n"
        "Lokaal Sparen\n"
    )
    return subject, body


def request_payments(
    session: Session, settlement: Settlement, mail_config: Mapping[str, Any], now: datetime
) -> tuple[int, int]:
    """E-mail each shop that still owes money after its prepaid balance, once.

    Returns (sent, failed). A line is marked by a conditional UPDATE before its
    message goes out, so two runs do not both send; a failed send unmarks it so
    that the next run (``loyalty settle`` again) tries again.
    """
    scheme = session.get_one(Scheme, settlement.scheme_id)
    due = session.scalars(
        sa.select(SettlementLine).where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.collect_cents > 0,
            SettlementLine.payment_requested_at.is_(None),
        ).order_by(SettlementLine.merchant_id)
    ).all()
    sent = failed = 0
    for line in due:
        claimed = session.execute(
            sa.update(SettlementLine)
            .where(SettlementLine.id == line.id, SettlementLine.payment_requested_at.is_(None))
            .values(payment_requested_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            continue
        merchant = session.get_one(Merchant, line.merchant_id)
        subject, body = payment_request_text(scheme, merchant, line, settlement.period)
        try:
            mail.send(mail_config, merchant.email, subject, body)
        except (OSError, smtplib.SMTPException):
            log.exception("payment request to shop %s failed", merchant.id)
            session.execute(
                sa.update(SettlementLine)
                .where(SettlementLine.id == line.id)
                .values(payment_requested_at=None)
                .execution_options(synchronize_session=False)
            )
            failed += 1
        else:
            sent += 1
    session.flush()
    return sent, failed


# -- Stripe Connect payouts ---------------------------------------------------------------


def stripe_settings(config: Mapping[str, Any]) -> funding.StripeSettings | None:
    """Stripe's settings from the app's configuration; None without STRIPE_SECRET_KEY."""
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        return None
    return funding.StripeSettings(key, config.get("STRIPE_API_BASE"))


def transfer_idempotency_key(line: SettlementLine) -> str:
    """One key per shop, settlement and refused attempt: Stripe makes one transfer
    however often we ask after a crash or a lost answer."""
    return (
        f"lokaal-sparen-settlement-{line.settlement_id}-merchant-{line.merchant_id}"
        f"-attempt-{line.stripe_attempt}"
    )


def pay_by_stripe(
    session: Session, settlement: Settlement, settings: funding.StripeSettings | None
) -> tuple[int, int]:
    """Make the Connect transfer of every Stripe payout of a locked month not yet made.

    Returns (made, failed). Each transfer carries an idempotency key of its
    settlement and shop, so a retry after a failure or a crash (a rerun of
    ``loyalty settle``) never pays twice; the transfer id is stored by a
    conditional UPDATE. Without Stripe settings nothing is sent.
    """
    due = session.scalars(
        sa.select(SettlementLine).where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.payout_method == PayoutMethod.STRIPE,
            SettlementLine.stripe_transfer_id.is_(None),
        ).order_by(SettlementLine.merchant_id)
    ).all()
    if settings is None:
        return 0, len(due)
    import stripe

    client = settings.client()
    made = failed = 0
    for line in due:
        merchant = session.get_one(Merchant, line.merchant_id)
        params: Any = {
            "amount": line.payout_cents,
            "currency": "eur",
            "destination": merchant.stripe_account_id,
            "transfer_group": f"settlement-{settlement.id}",
            "description": f"Lokaal Sparen {settlement.period}",
            "metadata": {
                "settlement_id": str(settlement.id),
                "period": settlement.period,
                "merchant_id": str(merchant.id),
                "reference": line.reference,
            },
        }
        try:
            transfer = client.v1.transfers.create(
                params=params, options={"idempotency_key": transfer_idempotency_key(line)}
            )
        except stripe.StripeError as error:
            log.exception("Stripe transfer to shop %s failed", merchant.id)
            failed += 1
            if error.http_status is not None:
                # Stripe answered with a refusal and replays it for this key:
                # the next try (once the shop's account is fixed) needs a new key.
                session.execute(
                    sa.update(SettlementLine)
                    .where(
                        SettlementLine.id == line.id,
                        SettlementLine.stripe_attempt == line.stripe_attempt,
                    )
                    .values(stripe_attempt=line.stripe_attempt + 1)
                    .execution_options(synchronize_session=False)
                )
            continue
        session.execute(
            sa.update(SettlementLine)
            .where(SettlementLine.id == line.id, SettlementLine.stripe_transfer_id.is_(None))
            .values(stripe_transfer_id=transfer.id)
            .execution_options(synchronize_session=False)
        )
        made += 1
    session.flush()
    return made, failed
