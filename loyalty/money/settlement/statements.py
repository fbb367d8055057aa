"""A shop's statement of a settled month, as CSV and PDF."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy.orm import Session

from loyalty.earning.corrections import KIND as SALE_CORRECTION
from loyalty.errors import NotFound
from loyalty.infra import csv_cells
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    PayoutMethod,
    Posting,
    Scheme,
    Settlement,
    SettlementLine,
)
from loyalty.money.pdf_layout import FONT, MoneyPdf, grouped_iban, latin
from loyalty.money.settlement.monthly import SETTLEMENT_KINDS, euros_redeemed
from loyalty.money.settlement.periods import format_reference
from loyalty.money.settlement.sepa import business_day_after, euros


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
    # The town money (euros) the shop took, part of line.redeemed_cents.
    euros_cents: int = 0

    @property
    def points_redeemed_cents(self) -> int:
        """The discount the shop gave for points: redeemed_cents without the euros."""
        return self.line.redeemed_cents - self.euros_cents


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
        euros_redeemed(session, settlement.id).get(merchant_id, 0),
    )


def _summary_rows(st: Statement) -> list[tuple[str, str]]:
    line = st.line
    rows = [
        ("issued", euros(line.issued_cents)),
        ("redeemed", euros(line.redeemed_cents)),
        # Of which: the discount for points, and the credit (euros) spent in the shop.
        ("redeemed_points", euros(st.points_redeemed_cents)),
        ("redeemed_euros", euros(st.euros_cents)),
        ("fees", euros(line.fees_cents)),
        ("net", euros(line.net_cents)),
        ("carried", euros(line.carried_cents)),
        ("prepaid_applied", euros(line.prepaid_applied_cents)),
        ("payout", euros(line.payout_cents)),
        ("payout_method", "town_service" if st.merchant.town_service else line.payout_method),
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


def _l(text: str) -> str:
    """Marks a text for translation; ``statement_pdf`` translates it when it writes."""
    return text


TITLE = _l("Statement")
PERIOD = _l("Period: %(first)s to %(last)s")
EARLIER = _l("This first settlement also takes %(count)s transactions from before the month, "
             "from %(first)s on.")
SUMMARY = _l("Summary")
GIVEN = _l("Points you gave (%(points)s points): their value, owed to the scheme")
REDEEMED = _l("Points redeemed in your shop (%(points)s points): their value, owed to you")
EUROS_REDEEMED = _l("Credit (euros) spent in your shop: owed to you")
TOWN_SERVICE = _l("A service of the municipality: what it took is kept by the municipality, "
                  "nothing is paid out.")
FEE = _l("Monthly fee")
NET = _l("Result of the month")
CARRIED = _l("Still open from earlier months")
PREPAID = _l("Prepaid money applied")
PAID_SEPA = _l("We pay you %(amount)s by bank transfer to %(iban)s; requested for %(day)s.")
PAID_STRIPE = _l("We pay you %(amount)s by Stripe transfer to your connected account.")
OWED_NO_BANK = _l("%(amount)s is owed to you. It will be paid with the first settlement after "
                  "you give your bank account in your shop's profile.")
TO_PAY = _l("You owe %(amount)s. Please transfer it to %(iban)s with the structured "
            "communication %(reference)s.")
NOTHING = _l("Nothing to pay and nothing to receive for this month.")
REFERENCE = _l("Structured communication of this settlement: %(reference)s")
DAYS = _l("Day by day")
DAY = _l("Day")
POINTS_GIVEN = _l("Points given")
VALUE_GIVEN = _l("Value given")
POINTS_REDEEMED = _l("Points redeemed")
VALUE_REDEEMED = _l("Value redeemed")
DAY_NET = _l("Net")
NO_DAYS = _l("No points were given or redeemed in your shop this month.")
CORRECTED = _l("Sales corrected: %(count)s; points taken back: %(points)s (%(amount)s), "
                "already netted above")
FULL_LIST = _l("Every transaction is listed in the CSV file of this statement.")


@dataclass
class DaySummary:
    """One local day of a shop's month: what it gave and what was redeemed there."""

    day: date
    points_given: int = 0
    given_cents: int = 0  # what the shop owes for them: negative
    points_redeemed: int = 0
    redeemed_cents: int = 0
    corrections: int = 0  # sales taken back (already netted in the points given)

    @property
    def net_cents(self) -> int:
        return self.given_cents + self.redeemed_cents


def day_by_day(st: Statement) -> list[DaySummary]:
    """The statement's transactions summed per local day (a reversal on its own day)."""
    zone = ZoneInfo(st.scheme.timezone)
    days: dict[date, DaySummary] = {}
    for entry in st.entries:
        local_day = entry.at.astimezone(zone).date()
        summary = days.setdefault(local_day, DaySummary(local_day))
        if entry.kind == SALE_CORRECTION:  # points given, then taken back
            summary.points_given -= entry.points
            summary.given_cents += entry.cents
            summary.corrections += 1
        elif entry.cents < 0:  # points given (or a redemption taken back)
            summary.points_given += entry.points
            summary.given_cents += entry.cents
        else:
            summary.points_redeemed += entry.points
            summary.redeemed_cents += entry.cents
    return [days[day] for day in sorted(days)]


def statement_pdf(st: Statement, translate: Callable[[str], str], locale: str) -> bytes:
    """The statement as a shopkeeper reads it, in their language: page 1 says what
    was given and redeemed, the fees, what is paid or owed, when, to which account
    and with which structured communication; then a summary per day. Every
    posting is in the CSV. ``translate`` translates the texts above (the pages'
    gettext) and ``locale`` formats amounts and dates (nl_BE, fr_BE, en_IE).
    The same for every download of a locked month and language.
    """
    zone = ZoneInfo(st.scheme.timezone)
    line = st.line
    start = st.settlement.starts_at.astimezone(zone).date()
    last = (st.settlement.ends_at.astimezone(zone) - timedelta(days=1)).date()
    days = day_by_day(st)
    given = sum(d.points_given for d in days)
    redeemed = sum(d.points_redeemed for d in days)
    reference = format_reference(line.reference)

    doc = MoneyPdf(f"Lokaal Sparen {st.settlement.period} {st.merchant.name}",
                   st.settlement.created_at, translate, locale, bottom_margin=15)
    pdf, width, t, eur, long, para = doc.pdf, doc.width, doc.t, doc.eur, doc.long_date, doc.para

    def points(value: int) -> str:
        return format_decimal(value, locale=locale)

    doc.letterhead(st.scheme.name)
    para(f"{t(TITLE)} {format_date(start, 'LLLL yyyy', locale=locale)}", 18, "B", 10)
    para(st.merchant.name, 12, "B", 7)
    para(t(PERIOD, first=long(start), last=long(last)))
    earlier = [e for e in st.entries if e.at.astimezone(zone).date() < start]
    if earlier:
        para(t(EARLIER, count=len(earlier), first=long(earlier[0].at.astimezone(zone).date())))
    pdf.ln(3)

    corrected = [e for e in st.entries if e.kind == SALE_CORRECTION]
    para(t(SUMMARY), 12, "B", 8)
    rows = [
        (t(GIVEN, points=points(given)), -line.issued_cents),
        (t(REDEEMED, points=points(redeemed)), st.points_redeemed_cents),
        (t(EUROS_REDEEMED), st.euros_cents),
        (t(FEE), -line.fees_cents),
        (t(NET), line.net_cents),
        (t(CARRIED), line.carried_cents),
        (t(PREPAID), line.prepaid_applied_cents),
    ]
    for label, cents in rows:
        doc.amount_row(label, cents, bold=label == t(NET))
    if corrected:
        para(t(CORRECTED, count=points(len(corrected)),
               points=points(sum(e.points for e in corrected)),
               amount=eur(sum(e.cents for e in corrected))), 9, "I")
    pdf.ln(3)
    due = line.carried_cents + line.net_cents
    if st.merchant.town_service:
        outcome = t(TOWN_SERVICE)
    elif line.payout_cents and line.payout_method == PayoutMethod.SEPA:
        outcome = t(PAID_SEPA, amount=eur(line.payout_cents), iban=grouped_iban(line.iban),
                    day=long(business_day_after(st.settlement.created_at.astimezone(zone)
                                                .date())))
    elif line.payout_cents:
        outcome = t(PAID_STRIPE, amount=eur(line.payout_cents))
    elif line.collect_cents:
        outcome = t(TO_PAY, amount=eur(line.collect_cents), iban=grouped_iban(st.scheme.iban),
                    reference=reference)
    elif due > 0:
        outcome = t(OWED_NO_BANK, amount=eur(due))
    else:
        outcome = t(NOTHING)
    para(outcome, 11, "B", 6)
    para(t(REFERENCE, reference=reference))
    pdf.ln(4)

    para(t(DAYS), 12, "B", 8)
    if not days:
        para(t(NO_DAYS))
    else:
        heads = (t(DAY), t(POINTS_GIVEN), t(VALUE_GIVEN), t(POINTS_REDEEMED),
                 t(VALUE_REDEEMED), t(DAY_NET))
        widths = (width * 0.2,) + (width * 0.16,) * 5
        pdf.set_font(FONT, "B", 8)
        for w, head in zip(widths, heads, strict=True):
            pdf.cell(w, 6, latin(head), border="B", align="L" if head == heads[0] else "R")
        pdf.ln()
        pdf.set_font(FONT, "", 8)
        for d in days:
            values = (format_date(d.day, "short", locale=locale), points(d.points_given),
                      eur(d.given_cents), points(d.points_redeemed), eur(d.redeemed_cents),
                      eur(d.net_cents))
            for i, (w, value) in enumerate(zip(widths, values, strict=True)):
                pdf.cell(w, 5, latin(value), align="L" if i == 0 else "R")
            pdf.ln()
    pdf.ln(4)
    para(t(FULL_LIST), 9, "I")
    return doc.output()
