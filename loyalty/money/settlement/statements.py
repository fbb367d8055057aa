"""A shop's statement of a settled month, as CSV and PDF."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import NotFound
from loyalty.infra import csv_cells
from loyalty.models import (
    Account,
    AccountKind,
    Asset,
    LedgerTransaction,
    Merchant,
    Posting,
    Scheme,
    Settlement,
    SettlementLine,
)
from loyalty.money.settlement.monthly import SETTLEMENT_KINDS
from loyalty.money.settlement.periods import format_reference
from loyalty.money.settlement.sepa import euros


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
