"""The shop owner's figures page: today and this month, positions, history, CSV, statistics.

The page's clock is pinned (monkeypatch of merchant_portal.figures.utcnow) to a
moment just after midnight in Brussels, so "today", "yesterday" and "last
month" fall on both sides of the UTC/local date line. Every expected figure is
computed here from the list of what the test did, not from the database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import merchant_portal.figures as figures_view
from loyalty.earning import claims
from loyalty.models import Merchant, PurchaseEvent, Role, Scheme, Wallet
from loyalty.shoppers import wallets
from loyalty.spending import redemptions
from loyalty.web.i18n import BABEL_LOCALES
from tests.factories import make_merchant, make_scheme, make_user
from tests.forms import signed_in

BRUSSELS = ZoneInfo("Europe/Brussels")
# Monday 16 March 2026, 00:30 in Brussels; still Sunday the 15th in UTC.
NOW = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)
POINT_VALUE = 7
LOCALE = BABEL_LOCALES["en"]  # the page is asked for in English (?lang=en)


# -- helpers ---------------------------------------------------------------------------


class _Tables(HTMLParser):
    """Every <table id=...> of a page: {id: {first cell: [other cells]}}, rows, captions."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[str]]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.captions: dict[str, str] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._text: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = {}
            self.rows[self._table] = []
            self.captions[self._table] = ""
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._row is not None and self._text is not None:
            # Collapse the markup's whitespace, keeping the no-break spaces of "12,50 €".
            self._row.append(re.sub(r"[ \t\r\n]+", " ", "".join(self._text)).strip())
            self._text = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if self._row:
                self.tables[self._table][self._row[0]] = self._row[1:]
                self.rows[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in_caption and self._table is not None:
            self.captions[self._table] += data
        if self._text is not None:
            self._text.append(data)


def _tables(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def _n(value: int) -> str:
    return format_decimal(value, locale=LOCALE)


def _eur(cents: int) -> str:
    return format_currency(cents / 100, "EUR", locale=LOCALE)


def _local(at: datetime) -> datetime:
    return at.astimezone(BRUSSELS)


def _new_wallet(session: Session, scheme: Scheme) -> tuple[Wallet, str]:
    new = wallets.create_wallet(session, scheme)
    session.commit()
    return new.wallet, new.token


def _sale(session: Session, merchant: Merchant, wallet: Wallet, at: datetime, cents: int) -> int:
    """A claimed sale at ``at``; the points it gave."""
    new = claims.create_claim(session, merchant, cents, at)
    result = claims.claim_points(session, new.token, wallet, at)
    session.commit()
    return result.points_credited


def _redeem(session: Session, merchant: Merchant, wallet: Wallet, at: datetime, points: int) -> str:
    redemption = redemptions.create_redemption(session, wallet, points, at)
    redemptions.confirm_redemption(session, redemption.code, merchant, at)
    session.commit()
    return redemption.code


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(figures_view, "utcnow", lambda: NOW)
    return NOW


# -- the data of one shop, with a neighbour whose figures must never leak in -------------


@dataclass
class Earn:
    at: datetime
    cents: int
    points: int


@dataclass
class Spend:
    at: datetime
    points: int


@dataclass
class World:
    scheme: Scheme
    bakery: Merchant
    butcher: Merchant
    earns: list[Earn] = field(default_factory=list)
    spends: list[Spend] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # tokens, codes, pseudonyms


@pytest.fixture
def world(session: Session) -> World:
    scheme = make_scheme(session, point_value_cents=POINT_VALUE)
    bakery = make_merchant(session, scheme, name="Bakkerij Test")
    butcher = make_merchant(session, scheme, name="Slagerij Test", sector="47.22")
    w = World(scheme, bakery, butcher)
    anna, anna_token = _new_wallet(session, scheme)
    bert, bert_token = _new_wallet(session, scheme)
    w.secrets += [anna_token, bert_token]
    # Points to spend, earned at the butcher's long before.
    _sale(session, butcher, anna, datetime(2026, 1, 10, 10, tzinfo=UTC), 20_000)
    _sale(session, butcher, bert, datetime(2026, 1, 10, 11, tzinfo=UTC), 20_000)

    def earn(wallet: Wallet, at: datetime, cents: int) -> None:
        w.earns.append(Earn(at, cents, _sale(session, bakery, wallet, at, cents)))

    def spend(wallet: Wallet, at: datetime, points: int) -> None:
        w.secrets.append(_redeem(session, bakery, wallet, at, points))
        w.spends.append(Spend(at, points))

    earn(anna, datetime(2026, 2, 28, 22, 59, tzinfo=UTC), 1_250)  # 23:59 on 28 Feb: last month
    earn(bert, datetime(2026, 2, 28, 23, 1, tzinfo=UTC), 3_075)  # 00:01 on 1 March
    earn(anna, datetime(2026, 3, 1, 8, 0, tzinfo=UTC), 999)  # 09:00 on 1 March
    earn(bert, datetime(2026, 3, 15, 22, 50, tzinfo=UTC), 4_599)  # 23:50 yesterday
    earn(anna, datetime(2026, 3, 15, 23, 10, tzinfo=UTC), 2_350)  # 00:10 today
    earn(bert, datetime(2026, 3, 15, 23, 25, tzinfo=UTC), 10_000)  # 00:25 today
    # Rung up yesterday at 23:55, collected today at 00:02: it counts today.
    late = claims.create_claim(session, bakery, 1_800, datetime(2026, 3, 15, 22, 55, tzinfo=UTC))
    at = datetime(2026, 3, 15, 23, 2, tzinfo=UTC)
    collected = claims.claim_points(session, late.token, anna, at)
    w.earns.append(Earn(at, 1_800, collected.points_credited))
    session.commit()
    spend(anna, datetime(2026, 2, 20, 10, 0, tzinfo=UTC), 30)  # last month
    spend(bert, datetime(2026, 3, 15, 12, 0, tzinfo=UTC), 20)  # yesterday
    spend(anna, datetime(2026, 3, 15, 23, 20, tzinfo=UTC), 40)  # today
    # Neither an open claim, a cancelled claim, nor a code still on hold counts.
    claims.create_claim(session, bakery, 5_000, datetime(2026, 3, 15, 23, 28, tzinfo=UTC))
    gone = claims.create_claim(session, bakery, 6_000, datetime(2026, 3, 15, 23, 15, tzinfo=UTC))
    claims.cancel_claim(session, gone.claim, datetime(2026, 3, 15, 23, 16, tzinfo=UTC))
    held = redemptions.create_redemption(
        session, anna, 11, datetime(2026, 3, 15, 23, 29, tzinfo=UTC)
    )
    w.secrets.append(held.code)
    # The butcher's business today, with amounts that would stand out.
    _sale(session, butcher, anna, datetime(2026, 3, 15, 23, 5, tzinfo=UTC), 77_777)
    w.secrets.append(_redeem(session, butcher, bert, datetime(2026, 3, 15, 23, 6, tzinfo=UTC), 15))
    session.commit()
    w.secrets += list(
        session.scalars(
            sa.select(PurchaseEvent.shopper_key).where(PurchaseEvent.scheme_id == scheme.id)
        )
    )
    return w


def _owner(session: Session, w: World, merchant: Merchant | None = None) -> str:
    return make_user(session, w.scheme, Role.MERCHANT_OWNER, merchant or w.bakery).email


# -- today and this month ---------------------------------------------------------------


def test_today_and_month_figures_and_positions(
    client: FlaskClient, session: Session, world: World, pinned_clock: datetime
) -> None:
    today = _local(NOW).date()
    assert today == date(2026, 3, 16)

    def figures(in_period: Callable[[date], bool]) -> dict[str, int]:
        earns = [e for e in world.earns if in_period(_local(e.at).date())]
        spends = [s for s in world.spends if in_period(_local(s.at).date())]
        issued = sum(e.points for e in earns)
        redeemed = sum(s.points for s in spends)
        return {
            "sales": len(earns),
            "amount": sum(e.cents for e in earns),
            "issued": issued,
            "codes": len(spends),
            "redeemed": redeemed,
            "owed_to": issued * POINT_VALUE,
            "owed_by": redeemed * POINT_VALUE,
        }

    day = figures(lambda d: d == today)
    month = figures(lambda d: (d.year, d.month) == (today.year, today.month))
    # The data really does straddle the boundaries.
    assert (day["sales"], month["sales"], len(world.earns)) == (3, 6, 7)
    assert (day["codes"], month["codes"], len(world.spends)) == (1, 2, 3)

    signed_in(client, _owner(session, world))
    response = client.get("/portal/figures?lang=en")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    tables = _tables(html).tables

    assert tables["period"]["Sales with points"] == [_n(day["sales"]), _n(month["sales"])]
    assert tables["period"]["Amount of those sales"] == [_eur(day["amount"]), _eur(month["amount"])]
    assert tables["period"]["Points given"] == [_n(day["issued"]), _n(month["issued"])]
    assert tables["period"]["Spend codes accepted"] == [_n(day["codes"]), _n(month["codes"])]
    assert tables["period"]["Points spent here"] == [_n(day["redeemed"]), _n(month["redeemed"])]

    positions = tables["positions"]
    assert positions["You owe the scheme (points given × value)"] == [
        _eur(day["owed_to"]),
        _eur(month["owed_to"]),
    ]
    assert positions["The scheme owes you (points spent here × value)"] == [
        _eur(day["owed_by"]),
        _eur(month["owed_by"]),
    ]

    def net(fig: dict[str, int]) -> str:
        cents = fig["owed_by"] - fig["owed_to"]
        if cents > 0:
            return f"{_eur(cents)} for you"
        return f"{_eur(-cents)} for the scheme" if cents < 0 else _eur(0)

    assert positions["Net"] == [net(day), net(month)]
    assert _eur(POINT_VALUE) in _tables(html).captions["positions"]
    # The butcher's € 777.77 sale never shows here.
    assert _eur(77_777) not in html


def test_the_page_is_accessible_markup_without_inline_code(
    client: FlaskClient, session: Session, world: World, pinned_clock: datetime
) -> None:
    signed_in(client, _owner(session, world))
    html = client.get("/portal/figures?lang=en").get_data(as_text=True)
    assert "<script" not in html
    assert "style=" not in html and "<style" not in html
    assert html.count("<table") == html.count("<caption") == 4
    assert 'scope="col"' in html and 'scope="row"' in html
    # The owner's menu leads here, marked as the current page.
    assert re.search(r'href="/portal/figures"\s+aria-current="page"', html)


# -- history and CSV ---------------------------------------------------------------------


def test_history_pages_newest_first(
    client: FlaskClient, session: Session, world: World, pinned_clock: datetime, monkeypatch
) -> None:
    monkeypatch.setattr("loyalty.shops.figures.PAGE_SIZE", 4)
    signed_in(client, _owner(session, world))
    lines = sorted(
        [(e.at, "points given", _eur(e.cents), _n(e.points), "") for e in world.earns]
        + [
            (s.at, "points spent", "", _n(s.points), _eur(s.points * POINT_VALUE))
            for s in world.spends
        ],
        key=lambda line: line[0],
        reverse=True,
    )
    seen: list[list[str]] = []
    for page in (1, 2, 3):
        html = client.get(f"/portal/figures?lang=en&page={page}").get_data(as_text=True)
        parsed = _tables(html)
        assert f"Page {page} of 3, 10 lines." in parsed.captions["history-table"]
        seen += parsed.rows["history-table"][1:]  # below the header row
        assert ('rel="next"' in html) == (page < 3)
        assert ('rel="prev"' in html) == (page > 1)
    assert len(seen) == 10
    for (at, kind, sale, points, discount), row in zip(lines, seen, strict=True):
        local = _local(at)
        assert row == [
            format_date(local.date(), "long", locale=LOCALE),
            local.strftime("%H:%M"),
            kind,
            sale,
            points,
            discount,
        ]

    # A range keeps to its days and to this shop.
    html = client.get("/portal/figures?lang=en&from=2026-03-16&to=2026-03-16").get_data(
        as_text=True
    )
    assert "Page 1 of 1, 4 lines." in _tables(html).captions["history-table"]
    bad = client.get("/portal/figures?lang=en&from=2026-03-16&to=2026-03-01")
    assert bad.status_code == 400
    assert "Choose a start date" in bad.get_data(as_text=True)


def _expected_csv(w: World, first: date | None, last: date | None) -> list[list[str]]:
    def euros(cents: int) -> str:
        return f"{cents // 100}.{cents % 100:02d}"

    lines = [(e.at, "earn", euros(e.cents), str(e.points), "") for e in w.earns] + [
        (s.at, "redeem", "", str(s.points), euros(s.points * POINT_VALUE)) for s in w.spends
    ]
    return [
        [_local(at).date().isoformat(), _local(at).strftime("%H:%M:%S"), kind, sale, pts, disc]
        for at, kind, sale, pts, disc in sorted(lines, key=lambda line: line[0])
        if (first is None or _local(at).date() >= first)
        and (last is None or _local(at).date() <= last)
    ]


def test_csv_export_has_exactly_the_shops_rows_and_nothing_personal(
    client: FlaskClient, session: Session, world: World, pinned_clock: datetime
) -> None:
    signed_in(client, _owner(session, world))
    response = client.get("/portal/figures.csv?from=2026-03-01&to=2026-03-16")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.mimetype_params.get("charset") == "utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('2026-03-01-2026-03-16.csv"')
    body = response.get_data().decode("utf-8")
    rows = list(csv.reader(io.StringIO(body)))
    header, data = rows[0], rows[1:]
    assert header == ["date", "time", "kind", "sale_amount_eur", "points", "discount_eur"]
    expected = _expected_csv(world, date(2026, 3, 1), date(2026, 3, 16))
    assert len(expected) == 8  # 6 sales, 2 spend codes: the February ones stay out
    assert data == expected
    for secret in world.secrets:
        assert secret not in body
    assert "777.77" not in body

    everything = client.get("/portal/figures.csv")
    assert list(csv.reader(io.StringIO(everything.get_data(as_text=True))))[1:] == _expected_csv(
        world, None, None
    )
    one_day = client.get("/portal/figures.csv?from=2026-02-28&to=2026-02-28")
    assert list(csv.reader(io.StringIO(one_day.get_data(as_text=True))))[1:] == _expected_csv(
        world, date(2026, 2, 28), date(2026, 2, 28)
    )
    for query in ("from=2026-03-16&to=2026-03-01", "from=16-03-2026", "to=2026-02-30"):
        assert client.get(f"/portal/figures.csv?{query}").status_code == 400


def test_each_shop_sees_only_its_own_figures(
    client: FlaskClient, session: Session, world: World, pinned_clock: datetime
) -> None:
    signed_in(client, _owner(session, world, world.butcher))
    html = client.get("/portal/figures?lang=en").get_data(as_text=True)
    period = _tables(html).tables["period"]
    # Today the butcher rang up one sale of € 777.77 and took one code of 15 points.
    assert period["Sales with points"] == ["1", "1"]
    assert period["Amount of those sales"] == [_eur(77_777), _eur(77_777)]
    assert period["Points spent here"] == ["15", "15"]
    body = client.get("/portal/figures.csv?from=2026-03-01&to=2026-03-16").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(body)))[1:] == [
        ["2026-03-16", "00:05:00", "earn", "777.77", "777", ""],
        ["2026-03-16", "00:06:00", "redeem", "", "15", "1.05"],
    ]


@pytest.mark.parametrize("role", [Role.CASHIER, Role.MUNICIPALITY_ADMIN])
def test_only_the_owner_may_see_the_figures(
    client: FlaskClient, session: Session, world: World, role: Role
) -> None:
    assert client.get("/portal/figures").status_code == 302  # to the sign-in page
    merchant = world.bakery if role == Role.CASHIER else None
    user = make_user(session, world.scheme, role, merchant)
    signed_in(client, user.email)
    assert client.get("/portal/figures").status_code == 403
    assert client.get("/portal/figures.csv").status_code == 403
    if role == Role.CASHIER:
        till = client.get("/portal/till").get_data(as_text=True)
        assert "/portal/figures" not in till


# -- the shop's own statistics ----------------------------------------------------------


def _local_at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


def test_statistics_hide_cells_with_fewer_than_k_shoppers(
    client: FlaskClient, session: Session, pinned_clock: datetime
) -> None:
    scheme = make_scheme(session, k_anonymity=3)
    shop = make_merchant(session, scheme)
    other = make_merchant(session, scheme)
    w1, w2, w3, w4, w5, w6, w7 = (_new_wallet(session, scheme)[0] for _ in range(7))
    monday, tuesday, wednesday = date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)
    saturday, sunday = date(2026, 3, 14), date(2026, 3, 15)
    purchases = [
        (w1, _local_at(monday, 10, 5)),
        (w1, _local_at(date(2026, 3, 2), 10, 20)),  # also a Monday at ten
        (w2, _local_at(monday, 10, 30)),
        (w3, _local_at(monday, 10, 45)),
        (w4, _local_at(tuesday, 14)),
        (w5, _local_at(wednesday, 9)),
        (w1, _local_at(saturday, 11)),
        (w2, _local_at(saturday, 11, 10)),
        (w3, _local_at(saturday, 11, 20)),
        (w4, _local_at(saturday, 11, 30)),
        (w6, _local_at(sunday, 12)),
        (w7, _local_at(sunday, 12, 30)),
    ]
    for wallet, at in purchases:
        _sale(session, shop, wallet, at, 1_500)
    # Older than 90 days: out of the window.
    _sale(session, shop, w5, _local_at(date(2025, 12, 15), 10), 1_500)
    # The other shop's shoppers at the same hours, and at an hour this shop never sees.
    for wallet in (w4, w5, w6):
        _sale(session, other, wallet, _local_at(monday, 10, 50), 1_500)
        _sale(session, other, wallet, _local_at(monday, 16), 1_500)

    signed_in(client, make_user(session, scheme, Role.MERCHANT_OWNER, shop).email)
    html = client.get("/portal/figures?lang=en").get_data(as_text=True)
    parsed = _tables(html)
    hours = parsed.tables["hours"]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert hours["Hour"] == days

    def row(**cells: str) -> list[str]:
        return [cells.get(day.lower(), "0") for day in days]

    # Monday 10:00: 4 purchases by 3 shoppers; Saturday 11:00: 4 by 4. The rest
    # have 1 or 2 shoppers, fewer than k = 3.
    assert {key: value for key, value in hours.items() if key != "Hour"} == {
        "09:00": row(wednesday="hidden"),
        "10:00": row(monday="4"),
        "11:00": row(saturday="4"),
        "12:00": row(sunday="hidden"),
        "13:00": row(),
        "14:00": row(tuesday="hidden"),
    }
    assert "fewer than 3 different shoppers" in parsed.captions["hours"]
    busiest = re.search(r"<p>Busiest:(.*?)</p>", html, re.S)
    assert busiest
    assert " ".join(busiest.group(1).split()) == (
        "Monday 10:00 (4 purchases), Saturday 11:00 (4 purchases)"
    )
    # 7 shoppers, of whom w1..w4 came back (3 and 4 shoppers: both cells visible).
    returning = re.search(r'<p id="returning">(.*?)</p>', html, re.S)
    assert returning
    assert " ".join(returning.group(1).split()) == (
        "57% of your shoppers came back: 4 of 7 different shoppers bought here more than once."
    )


def test_returning_shoppers_hidden_when_too_few(
    client: FlaskClient, session: Session, pinned_clock: datetime
) -> None:
    scheme = make_scheme(session, k_anonymity=3)
    shop = make_merchant(session, scheme)
    regulars = [_new_wallet(session, scheme)[0] for _ in range(4)]
    passer_by = _new_wallet(session, scheme)[0]
    for wallet in regulars:
        _sale(session, shop, wallet, NOW - timedelta(days=3), 2_000)
        _sale(session, shop, wallet, NOW - timedelta(days=2), 2_000)
    _sale(session, shop, passer_by, NOW - timedelta(days=1), 2_000)
    signed_in(client, make_user(session, scheme, Role.MERCHANT_OWNER, shop).email)
    html = client.get("/portal/figures?lang=en").get_data(as_text=True)
    returning = re.search(r'<p id="returning">(.*?)</p>', html, re.S)
    assert returning
    # 4 came back, 1 came once (< k): the share would give the one away.
    assert " ".join(returning.group(1).split()) == (
        "Hidden: too few shoppers. 5 different shoppers bought here."
    )
