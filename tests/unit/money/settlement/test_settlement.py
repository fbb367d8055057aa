"""Monthly settlement: net positions locked once, payouts, SEPA file, statements, late postings."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InvalidInput
from loyalty.models import (
    Account,
    AccountKind,
    LedgerTransaction,
    PayoutMethod,
    Posting,
    Settlement,
    SettlementLine,
)
from loyalty.money import accounts, funding, ledger
from loyalty.money.settlement import (
    bank_accounts,
    monthly,
    payment_requests,
    periods,
    sepa,
    statements,
)
from tests.factories import make_scheme
from tests.settlement_data import (
    earn,
    earn_and_redeem,
    generate_month,
    iban_for,
    make_shops,
    prepay,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# March 2025 in Brussels (UTC+1 in winter, +2 after 30 March).
MARCH = "2025-03"
MARCH_START = datetime(2025, 2, 28, 23, 0, tzinfo=UTC)
MARCH_END = datetime(2025, 3, 31, 22, 0, tzinfo=UTC)
SCHEME_IBAN = "BE71096123456769"
NS = {"p": sepa.SEPA_NS}


def _scheme(session: Session, **kw: object):  # type: ignore[no-untyped-def]
    scheme = make_scheme(session, **kw)
    bank_accounts.set_scheme_bank_account(session, scheme, SCHEME_IBAN, "")
    session.commit()
    return scheme


def _settle(session: Session, scheme, period: str = MARCH):  # type: ignore[no-untyped-def]
    result = monthly.settle(session, scheme, period, NOW)
    session.commit()
    return result


def _position_sums_sql(session: Session, settlement_id: int) -> dict[int, int]:
    """The independent sum: every position posting of the settled, non-settlement transactions."""
    rows = session.execute(
        sa.text(
            "SELECT a.merchant_id, SUM(p.amount) FROM postings p"
            " JOIN accounts a ON a.id = p.account_id"
            " JOIN ledger_transactions t ON t.id = p.transaction_id"
            " WHERE a.kind = 'merchant_position' AND t.settlement_id = :sid"
            " AND t.kind NOT LIKE 'settlement%'"
            " GROUP BY a.merchant_id"
        ),
        {"sid": settlement_id},
    ).all()
    return {int(m): int(total) for m, total in rows}


def test_periods_and_structured_references() -> None:
    scheme = type("S", (), {"timezone": "Europe/Brussels"})()
    assert periods.period_bounds(scheme, MARCH) == (MARCH_START, MARCH_END)  # type: ignore[arg-type]
    assert periods.period_bounds(scheme, "2026-12")[1] == datetime(  # type: ignore[arg-type]
        2026, 12, 31, 23, 0, tzinfo=UTC
    )
    for bad in ("2026-13", "2026-1", "26-11", "2026-11 ", "", "1999-01"):
        with pytest.raises(InvalidInput):
            periods.parse_period(bad)
    ref = periods.structured_reference("2026-11", 42)
    assert ref[:10] == "2611000042"
    assert int(ref[10:]) == 2611000042 % 97
    assert periods.format_reference(ref) == f"+++{ref[:3]}/{ref[3:7]}/{ref[7:]}+++"
    assert periods.reference_is_valid(periods.format_reference(ref))
    assert not periods.reference_is_valid(ref[:11] + str((int(ref[11]) + 1) % 10))
    # A multiple of 97 takes 97 as its check digits, never 00.
    base = 2611000000 + (97 - 2611000000 % 97)
    merchant_id = base - 2611000000
    assert periods.structured_reference("2026-11", merchant_id).endswith("97")


def test_bank_accounts_are_checked() -> None:
    account = bank_accounts.check_bank_account("be71 0961 2345 6769", "", "Bakkerij De Smet")
    assert (account.iban, account.bic) == ("BE71096123456769", "GKCCBEBB")
    for iban, bic, code in [
        ("BE71096123456768", "", "invalid_iban"),  # checksum
        ("NL00XXXX", "", "invalid_iban"),
        ("BE71096123456769", "NOT A BIC", "invalid_bic"),
        ("BE68539007547034", "", "bic_needed"),  # a bank schwifty does not know
    ]:
        with pytest.raises(InvalidInput) as error:
            bank_accounts.check_bank_account(iban, bic, "Shop")
        assert error.value.code == code
    with pytest.raises(InvalidInput):
        bank_accounts.check_bank_account("BE71096123456769", "", " ")


def test_a_generated_month_of_50_shops_and_10000_flows(session: Session, verify_ledger) -> None:  # type: ignore[no-untyped-def]
    scheme = _scheme(session, monthly_fee_cents=250)
    shops = make_shops(session, scheme, 50)
    for i, shop in enumerate(shops):
        if i % 5:  # every fifth shop has no bank account: its payout stays open
            shop.iban, shop.bic, shop.account_holder = iban_for(i + 1), "GEBABEBB", shop.name
    session.commit()
    month = generate_month(session, scheme, shops, MARCH_START, 10_000)
    assert month.flows == 10_000
    prepaid = {shops[1].id: 1_000_000, shops[2].id: 150}
    for shop in shops[1:3]:
        prepay(session, scheme, shop, prepaid[shop.id], MARCH_START)
    # Activity of April: not part of March.
    earn(session, scheme, shops[0], 10, MARCH_END)

    result = _settle(session, scheme)
    assert result.created
    locked = result.settlement
    lines = {line.merchant_id: line for line in monthly.lines_of(session, locked.id)}
    assert set(lines) == {shop.id for shop in shops}
    sql_sums = _position_sums_sql(session, locked.id)
    for shop in shops:
        line = lines[shop.id]
        expected = month.redeemed[shop.id] - month.issued[shop.id] - 250
        assert (line.issued_cents, line.redeemed_cents, line.fees_cents) == (
            month.issued[shop.id], month.redeemed[shop.id], 250
        )
        assert line.net_cents == expected == sql_sums.get(shop.id, 0) - 250
        if expected > 0:
            assert line.prepaid_applied_cents == line.collect_cents == 0
            assert line.payout_cents == (expected if shop.iban else 0)
            assert line.payout_method == (PayoutMethod.SEPA if shop.iban else PayoutMethod.NONE)
        else:
            assert line.payout_cents == 0
            applied = min(prepaid.get(shop.id, 0), -expected)
            assert line.prepaid_applied_cents == applied
            assert line.collect_cents == -expected - applied
    # Both signs occur, and a prepaid balance is used in part and in full.
    assert any(line.net_cents > 0 for line in lines.values())
    assert any(line.collect_cents > 0 for line in lines.values())

    # The positions moved by exactly what the settlement says.
    for shop in shops:
        line = lines[shop.id]
        position = accounts.merchant_account(session, scheme.id, shop.id,
                                          AccountKind.MERCHANT_POSITION)
        april = -50 if shop.id == shops[0].id else 0
        assert ledger.balance(session, position.id) == (
            line.net_cents + line.prepaid_applied_cents - line.payout_cents + april
        )
        pre = accounts.merchant_account(session, scheme.id, shop.id, AccountKind.MERCHANT_PREPAID)
        assert ledger.balance(session, pre.id) == prepaid.get(shop.id, 0) - (
            line.prepaid_applied_cents
        )
    fees = accounts.scheme_account(session, scheme.id, AccountKind.FEES)
    assert ledger.balance(session, fees.id) == 250 * 50

    # The SEPA file: valid against the XSD, one transfer per paid shop, control sum.
    assert locked.sepa_xml is not None
    sepa.validate_sepa(locked.sepa_xml.encode())
    root = ET.fromstring(locked.sepa_xml)  # noqa: S314  (our own output)
    transfers = root.findall(".//p:CdtTrfTxInf", NS)
    sepa_lines = [line for line in lines.values() if line.payout_method == PayoutMethod.SEPA]
    assert len(transfers) == len(sepa_lines) == locked.sepa_transfers > 0
    amounts = [Decimal(t.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "") for t in transfers]
    control = Decimal(root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) or "")
    assert sum(amounts) == control == Decimal(locked.control_sum_cents) / 100
    # Settled on Friday 27 November 2026: executed on Monday 30 November.
    assert root.findtext(".//p:PmtInf/p:ReqdExctnDt", namespaces=NS) == "2026-11-30"
    by_ref = {t.findtext(".//p:CdtrRefInf/p:Ref", namespaces=NS): t for t in transfers}
    for line in sepa_lines:
        transfer = by_ref[line.reference]
        assert periods.reference_is_valid(line.reference)
        assert transfer.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == line.iban
        assert Decimal(transfer.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "") * 100 == (
            line.payout_cents
        )

    # The statements' payouts add up to the file's control sum, and each
    # statement's rows add up to its totals.
    statement_payouts = 0
    for shop in shops:
        st = statements.statement(session, locked, shop.id)
        rows = list(csv.reader(io.StringIO(statements.statement_csv(st))))
        header = rows.index(["date", "kind", "transaction", "points", "euro"])
        body = rows[header + 1: rows.index([], header)]
        totals = dict(r for r in rows[rows.index([], header) + 1:] if len(r) == 2)
        cents = [int(Decimal(r[4]) * 100) for r in body]
        assert -sum(c for r, c in zip(body, cents, strict=True) if r[1] == "earn") == (
            st.line.issued_cents
        )
        assert sum(c for r, c in zip(body, cents, strict=True) if r[1] == "redeem") == (
            st.line.redeemed_cents
        )
        assert Decimal(totals["net"]) * 100 == st.line.net_cents
        if st.line.payout_method == PayoutMethod.SEPA:
            statement_payouts += int(Decimal(totals["payout"]) * 100)
        pdf = statements.statement_pdf(st, str, "nl_BE")
        assert pdf.startswith(b"%PDF-")
        again_pdf = statements.statement_pdf(
            statements.statement(session, locked, shop.id), str, "nl_BE"
        )
        assert again_pdf == pdf
    assert statement_payouts == locked.control_sum_cents

    # A rerun changes nothing and returns the same answer.
    count_before = session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction))
    again = _settle(session, scheme)
    assert not again.created and again.settlement.id == locked.id
    assert again.settlement.sepa_xml == locked.sepa_xml
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) == (
        count_before
    )
    verify_ledger()


def test_a_late_posting_falls_into_the_next_period(session: Session, verify_ledger) -> None:  # type: ignore[no-untyped-def]
    scheme = _scheme(session)
    (shop,) = make_shops(session, scheme, 1)
    earn(session, scheme, shop, 100, datetime(2025, 3, 10, tzinfo=UTC))
    march = _settle(session, scheme).settlement
    # Committed after the lock, though dated inside March.
    earn(session, scheme, shop, 7, datetime(2025, 3, 31, 12, tzinfo=UTC))
    again = _settle(session, scheme)
    assert not again.created
    (line,) = monthly.lines_of(session, march.id)
    assert line.issued_cents == 500
    april = _settle(session, scheme, "2025-04").settlement
    (april_line,) = monthly.lines_of(session, april.id)
    assert april_line.issued_cents == 35
    # March's unpaid 500 cents are asked again together with April's 35.
    assert (april_line.carried_cents, april_line.collect_cents) == (-500, 535)
    # Nothing unsettled before April's end is left, and nothing was taken twice.
    taken = session.execute(
        sa.select(LedgerTransaction.settlement_id, sa.func.count())
        .where(LedgerTransaction.scheme_id == scheme.id, LedgerTransaction.kind == "earn")
        .group_by(LedgerTransaction.settlement_id)
    ).all()
    assert sorted(taken) == sorted([(march.id, 1), (april.id, 1)])
    verify_ledger()


def test_months_are_settled_once_in_order_and_only_when_over(session: Session) -> None:
    scheme = _scheme(session)
    make_shops(session, scheme, 1)
    with pytest.raises(InvalidInput) as error:
        monthly.settle(session, scheme, "2026-11", NOW)
    assert error.value.code == "period_not_over"
    session.rollback()
    _settle(session, scheme, "2025-04")
    with pytest.raises(Conflict):
        monthly.settle(session, scheme, MARCH, NOW)
    session.rollback()


def test_months_are_settled_one_by_one_from_the_first_activity(session: Session) -> None:
    """No settlement takes several months of activity under one month's name."""
    scheme = _scheme(session, monthly_fee_cents=250)
    (shop,) = make_shops(session, scheme, 1)
    assert monthly.next_period(session, scheme) is None  # nothing booked yet
    # Brussels time: 23:30 UTC on 31 January is already February there.
    earn(session, scheme, shop, 10, datetime(2025, 1, 31, 23, 30, tzinfo=UTC))
    earn(session, scheme, shop, 20, datetime(2025, 4, 2, tzinfo=UTC))
    assert monthly.next_period(session, scheme) == "2025-02"
    with pytest.raises(Conflict) as error:
        monthly.settle(session, scheme, "2025-04", NOW)
    assert error.value.code == "earlier_period_unsettled"
    assert "2025-02" in error.value.message
    session.rollback()
    february = _settle(session, scheme, "2025-02").settlement
    assert monthly.next_period(session, scheme) == "2025-03"
    with pytest.raises(Conflict) as error:
        monthly.settle(session, scheme, "2025-04", NOW)
    assert error.value.code == "earlier_period_unsettled"
    session.rollback()
    # A month without activity is settled too: the shop's fee is due every month.
    march = _settle(session, scheme, MARCH).settlement
    april = _settle(session, scheme, "2025-04").settlement
    lines = {
        s.period: monthly.lines_of(session, s.id)[0] for s in (february, march, april)
    }
    assert {p: line.issued_cents for p, line in lines.items()} == {
        "2025-02": 50, "2025-03": 0, "2025-04": 100,
    }
    assert all(line.fees_cents == 250 for line in lines.values())
    assert monthly.next_period(session, scheme) == "2025-05"


def test_a_sepa_payout_needs_the_schemes_bank_account(session: Session) -> None:
    scheme = make_scheme(session)
    (issuer, shop) = make_shops(session, scheme, 2)
    bank_accounts.set_merchant_bank_account(session, shop, iban_for(9), "GEBABEBB", "De Smet")
    session.commit()
    earn_and_redeem(session, scheme, issuer, shop, 40, datetime(2025, 3, 3, tzinfo=UTC))
    with pytest.raises(InvalidInput) as error:
        monthly.settle(session, scheme, MARCH, NOW)
    assert error.value.code == "scheme_bank_missing"
    session.rollback()
    assert session.scalar(sa.select(Settlement.id).where(Settlement.scheme_id == scheme.id)) is None


def test_concurrent_settles_of_one_month_make_one_settlement(
    app: Flask, session: Session, verify_ledger  # type: ignore[no-untyped-def]
) -> None:
    scheme = _scheme(session, monthly_fee_cents=100)
    shops = make_shops(session, scheme, 5)
    for i, shop in enumerate(shops):
        shop.iban, shop.bic, shop.account_holder = iban_for(100 + i), "GEBABEBB", shop.name
    session.commit()
    generate_month(session, scheme, shops, MARCH_START, 500)
    factory = app.extensions["loyalty.sessions"]
    barrier = threading.Barrier(6, timeout=30)
    answers: list[tuple[int, bool] | BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            with factory() as s, s.begin():
                scheme_here = s.get_one(type(scheme), scheme.id)
                result = monthly.settle(s, scheme_here, MARCH, NOW)
                answer = (result.settlement.id, result.created)
            answers.append(answer)
        except BaseException as error:  # noqa: BLE001  (reported below)
            answers.append(error)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(a, tuple) for a in answers), answers
    assert len({a[0] for a in answers if isinstance(a, tuple)}) == 1
    assert sum(1 for a in answers if isinstance(a, tuple) and a[1]) == 1
    session.expire_all()
    assert session.scalar(
        sa.select(sa.func.count()).select_from(Settlement).where(Settlement.scheme_id == scheme.id)
    ) == 1
    settled = session.scalar(sa.select(Settlement).where(Settlement.scheme_id == scheme.id))
    assert settled is not None
    assert session.scalar(
        sa.select(sa.func.count()).select_from(SettlementLine)
        .where(SettlementLine.settlement_id == settled.id)
    ) == 5
    fees = session.scalar(
        sa.select(sa.func.count()).select_from(LedgerTransaction)
        .where(LedgerTransaction.scheme_id == scheme.id, LedgerTransaction.kind == "settlement_fee")
    )
    assert fees == 5
    # Every position posting of the month is counted once.
    total = session.scalar(
        sa.select(sa.func.sum(Posting.amount))
        .join(Account, Account.id == Posting.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Account.scheme_id == scheme.id, Account.kind == "merchant_position",
               LedgerTransaction.kind.in_(["earn", "redeem"]))
    )
    lines = monthly.lines_of(session, settled.id)
    assert sum(line.net_cents + line.fees_cents for line in lines) == total
    verify_ledger()


def test_shops_that_owe_are_asked_to_pay_once_by_email(
    session: Session, smtp_server  # type: ignore[no-untyped-def]
) -> None:
    host, port, mailbox = smtp_server
    scheme = _scheme(session)
    (shop, other) = make_shops(session, scheme, 2)
    earn(session, scheme, shop, 100, datetime(2025, 3, 10, tzinfo=UTC))  # owes 500 cents
    prepay(session, scheme, shop, 120, MARCH_START)
    locked = _settle(session, scheme).settlement
    config = {"MAIL_SERVER": host, "MAIL_PORT": port, "MAIL_FROM": "sparen@example.be"}
    assert payment_requests.request_payments(session, locked, config, NOW) == (1, 0)
    session.commit()
    message = mailbox.wait_for(shop.email)
    body = message.get_content()
    (line,) = [x for x in monthly.lines_of(session, locked.id) if x.merchant_id == shop.id]
    assert line.collect_cents == 380 and line.prepaid_applied_cents == 120
    # The debt's own reference, as on the statement and in the settlement table;
    # the transfer that carries it becomes prepaid money that the next
    # settlement applies (funding.merchant_for_communication finds the shop).
    assert "EUR 3,80" in body and periods.format_reference(line.reference) in body
    assert funding.structured_communication(shop.id) not in body
    assert funding.merchant_for_communication(session, scheme.id, line.reference) == shop.id
    assert "BE71096123456769" in body
    # A second run sends nothing more.
    assert payment_requests.request_payments(session, locked, config, NOW) == (0, 0)
    session.commit()
    assert not [m for m in mailbox.messages if m["To"] == other.email]


def test_what_a_month_leaves_open_is_paid_or_collected_with_the_next(
    session: Session, verify_ledger  # type: ignore[no-untyped-def]
) -> None:
    scheme = _scheme(session)
    owed_to, owing = make_shops(session, scheme, 2)
    earn_and_redeem(session, scheme, owing, owed_to, 100, datetime(2025, 3, 5, tzinfo=UTC))
    march = _settle(session, scheme).settlement
    lines = {x.merchant_id: x for x in monthly.lines_of(session, march.id)}
    # No bank account yet: nothing paid; nothing prepaid: all to collect.
    assert (lines[owed_to.id].net_cents, lines[owed_to.id].payout_cents) == (500, 0)
    assert lines[owed_to.id].payout_method == PayoutMethod.NONE
    assert (lines[owing.id].net_cents, lines[owing.id].collect_cents) == (-500, 500)

    # The shop gives its account; the debtor pays (as a prepayment) part of it.
    bank_accounts.set_merchant_bank_account(session, owed_to, iban_for(77), "GEBABEBB", "Owed bv")
    session.commit()
    prepay(session, scheme, owing, 300, datetime(2025, 4, 2, tzinfo=UTC))
    april = _settle(session, scheme, "2025-04").settlement
    lines = {x.merchant_id: x for x in monthly.lines_of(session, april.id)}
    assert (lines[owed_to.id].net_cents, lines[owed_to.id].carried_cents) == (0, 500)
    assert lines[owed_to.id].payout_cents == 500
    assert lines[owed_to.id].payout_method == PayoutMethod.SEPA
    assert april.control_sum_cents == 500
    assert lines[owing.id].carried_cents == -500
    assert (lines[owing.id].prepaid_applied_cents, lines[owing.id].collect_cents) == (300, 200)

    prepay(session, scheme, owing, 1000, datetime(2025, 5, 2, tzinfo=UTC))
    may = _settle(session, scheme, "2025-05").settlement
    lines = {x.merchant_id: x for x in monthly.lines_of(session, may.id)}
    assert lines[owed_to.id].carried_cents == 0 and lines[owed_to.id].payout_cents == 0
    assert lines[owing.id].carried_cents == -200
    assert (lines[owing.id].prepaid_applied_cents, lines[owing.id].collect_cents) == (200, 0)
    june = _settle(session, scheme, "2025-06").settlement
    assert all(x.carried_cents == 0 for x in monthly.lines_of(session, june.id))
    verify_ledger()


@pytest.mark.parametrize(
    ("settled_on", "executed_on"),
    [
        (date(2026, 11, 3), date(2026, 11, 4)),  # a Tuesday: the next day
        (date(2026, 11, 6), date(2026, 11, 9)),  # a Friday: Monday
        (date(2026, 11, 10), date(2026, 11, 12)),  # 11 November, Armistice Day
        (date(2026, 4, 2), date(2026, 4, 7)),  # Good Friday (TARGET2 closed), Easter Monday
        (date(2026, 12, 24), date(2026, 12, 28)),  # Christmas, 26 December, a weekend
        (date(2026, 7, 20), date(2026, 7, 22)),  # 21 July, the National Day
    ],
)
def test_a_sepa_file_asks_for_a_belgian_business_day(settled_on: date, executed_on: date) -> None:
    assert sepa.business_day_after(settled_on) == executed_on
