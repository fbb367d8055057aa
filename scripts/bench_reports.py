#!/usr/bin/env python3
"""Spending by sector over a million purchase events: from the rollups versus the
same figures by GROUP BY on the raw events, in one run; then the same from the
released (noisy) daily and per-period cells that the reports read, for any date range,
and every report of the catalogue; then the dashboard's report pages, timed on the
server.

For each period (a calendar month, a quarter, the calendar year, and twelve
months that are none of those) it times, median of --runs:

- rollups: the per-sector cells from the day x shop x hour rollup with the
  distinct shoppers from the stored counts (or the per-shopper rollup for the
  unaligned period), through the privacy rules;
- raw: loyalty.analytics.reports.events_spending(by="sector"), GROUP BY and
  COUNT(DISTINCT shopper_key) on analytics_purchase_events, same rules;

checks that both give the same rows, and prints ms and the ratio. Then it
signs in an analyst with Flask's test client and times every report page
(server time: the whole request inside the app, including the template).

Released cells: the days of the events are released first when they are not
yet (loyalty.analytics.release, as the nightly job does; this takes a while
once). Then, per period, the sector report from the released cells against
the raw GROUP BY of the same run, and the slowest report of the catalogue.

Goals: <= 100 ms per report from the rollups, >= 10x faster than raw;
<= 100 ms per report from released cells for any date range;
dashboard pages <= 300 ms.

Example (after scripts/generate_events.py filled the database):
  .venv/bin/python scripts/bench_reports.py --database-url sqlite:////tmp/bench.db
  .venv/bin/python scripts/bench_reports.py --database-url postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

PERIODS = [
    ("month 2026-10", date(2026, 10, 1), date(2026, 10, 31)),
    ("quarter 2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
    ("year 2026", date(2026, 1, 1), date(2026, 12, 31)),
    ("12 months to 2026-10-15", date(2025, 10, 16), date(2026, 10, 15)),
]


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--scheme", default="bench-sint-gillis-waas")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the dashboard pages")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("give --database-url (or DATABASE_URL)")
    os.environ.setdefault("SECRET_KEY", "bench")
    # A cheap password hash for the bench user only; production keeps RFC 9106 costs.
    os.environ.setdefault("LOYALTY_INSECURE_FAST_PASSWORD_HASH", "1")

    from lokaal_sparen.app import create_app
    from loyalty.access import staff
    from loyalty.analytics import catalog, cells, period_release, privacy, release, reports, rollups
    from loyalty.analytics.periods import Period
    from loyalty.errors import InvalidInput
    from loyalty.infra.db import sqlite_begin_mode
    from loyalty.models import PurchaseEvent, Role, Scheme, StaffUser

    app = create_app({"DATABASE_URL": args.database_url, "WTF_CSRF_ENABLED": False})
    sessions = app.extensions["loyalty.sessions"]
    dialect = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    sqlite_begin_mode.set("DEFERRED")
    with sessions() as session:
        scheme = session.scalar(sa.select(Scheme).where(Scheme.slug == args.scheme))
        if scheme is None:
            parser.error(f"no scheme {args.scheme}: run scripts/generate_events.py first")
        events = session.scalar(sa.select(sa.func.count()).where(
            PurchaseEvent.scheme_id == scheme.id))
        print(f"{dialect}: {events:,} purchase events in {scheme.slug}; "
              f"{args.runs} runs per figure, median")
        if rollups.pending(session, scheme):
            session.rollback()
            sqlite_begin_mode.set("IMMEDIATE")
            with session.begin():
                rollups.refresh(session, scheme)
            sqlite_begin_mode.set("DEFERRED")
        print(f"{'period':26} {'rollups ms':>11} {'raw ms':>9} {'ratio':>7} {'full report ms':>15}")
        worst_ratio, worst_rollup = float("inf"), 0.0
        arbitrary = (0.0, 0.0)
        for name, start, end in PERIODS:
            period = Period(start, end)

            def from_rollups(period: Period = period) -> list[Any]:
                found = cells.cells(session, scheme.id, "sector", period)
                return privacy.suppress(found, scheme.k_anonymity)

            def from_raw(start: date = start, end: date = end) -> list[Any]:
                return reports.events_spending(session, scheme, "sector", start, end)

            rollup_ms, fast = median_ms(from_rollups, args.runs)
            raw_ms, slow = median_ms(from_raw, max(1, args.runs // 2))
            full_ms, _ = median_ms(
                lambda period=period: catalog.build(session, scheme, "sector-classes", period),
                args.runs)
            same = [(c.key, c.purchases, c.amount_cents, c.shoppers, c.suppressed) for c in fast]
            assert same == [(c.key, c.purchases, c.amount_cents, c.shoppers, c.suppressed)
                            for c in slow], f"rollups and raw disagree for {name}"
            ratio = raw_ms / rollup_ms
            if period.grain() is not None:  # the calendar periods the goal is about
                worst_ratio, worst_rollup = min(worst_ratio, ratio), max(worst_rollup, rollup_ms)
            else:
                arbitrary = (rollup_ms, ratio)
            print(f"{name:26} {rollup_ms:11.1f} {raw_ms:9.1f} {ratio:6.1f}x {full_ms:15.1f}")
            session.rollback()

        # -- the released cells, which every report reads now ---------------------------
        last_event = session.scalar(sa.select(sa.func.max(PurchaseEvent.local_date)).where(
            PurchaseEvent.scheme_id == scheme.id))
        if release.last_released_day(session, scheme.id) != last_event:
            session.rollback()
            sqlite_begin_mode.set("IMMEDIATE")
            started = time.perf_counter()
            after = datetime.combine(last_event + timedelta(days=2), datetime.min.time(), UTC)
            with session.begin():
                done = release.release(session, scheme, after)
            print(f"\nreleased {done.days} days ({done.cells:,} cells) in "
                  f"{time.perf_counter() - started:.0f} s")
            sqlite_begin_mode.set("DEFERRED")
        # And the closed weeks, months, quarters and years: the shopper reports'
        # distinct counts (loyalty.analytics.period_release), as the nightly job does.
        after = datetime.combine(last_event + timedelta(days=2), datetime.min.time(), UTC)
        if period_release.closed_periods(session, scheme, after):
            session.rollback()
            sqlite_begin_mode.set("IMMEDIATE")
            started = time.perf_counter()
            with session.begin():
                periods = period_release.release_periods(session, scheme, after)
            print(f"released {periods.periods} weeks, months, quarters and years "
                  f"({periods.cells:,} cells) in {time.perf_counter() - started:.0f} s")
            sqlite_begin_mode.set("DEFERRED")
        print(f"\n{'period':26} {'released ms':>12} {'raw ms':>9} {'ratio':>7} "
              f"{'slowest report ms':>18}")
        worst_released, worst_released_ratio, slowest_report = 0.0, float("inf"), ("", 0.0)
        for name, start, end in PERIODS:
            period = Period(start, end)

            def from_released(period: Period = period) -> Any:
                return catalog.build(session, scheme, "sectors", period, "nl")

            def from_raw(start: date = start, end: date = end) -> list[Any]:
                return reports.events_spending(session, scheme, "sector", start, end)

            released_ms, _ = median_ms(from_released, args.runs)
            raw_ms, _ = median_ms(from_raw, max(1, args.runs // 2))
            slowest = ("", 0.0)
            for report in catalog.CATALOG:
                try:
                    ms, _ = median_ms(
                        lambda report=report, period=period: catalog.build(
                            session, scheme, report, period, "nl"), args.runs)
                except InvalidInput:  # a report made only for whole closed calendar periods
                    continue
                if ms > slowest[1]:
                    slowest = (report, ms)
            worst_released = max(worst_released, released_ms, slowest[1])
            worst_released_ratio = min(worst_released_ratio, raw_ms / released_ms)
            if slowest[1] > slowest_report[1]:
                slowest_report = slowest
            print(f"{name:26} {released_ms:12.1f} {raw_ms:9.1f} {raw_ms / released_ms:6.1f}x "
                  f"{slowest[1]:11.1f} ({slowest[0]})")
            session.rollback()

        user = session.scalar(sa.select(StaffUser).where(
            StaffUser.scheme_id == scheme.id, StaffUser.role == Role.MUNICIPALITY_ANALYST))
        if user is None:
            session.rollback()
            sqlite_begin_mode.set("IMMEDIATE")
            with session.begin():
                user = staff.create_user(session, scheme, email=f"analist@{scheme.slug}.example",
                                         password="bench-password-1234",  # noqa: S106
                                         role=Role.MUNICIPALITY_ANALYST)
            sqlite_begin_mode.set("DEFERRED")
        email = user.email
    if args.pages:
        client = app.test_client()
        client.set_cookie("lang", "nl")
        signed_in = client.post("/login", data={"email": email,
                                                "password": "bench-password-1234"})
        assert signed_in.status_code == 303, signed_in.status_code
        query = {"from": "2026-10-01", "to": "2026-10-31"}
        print(f"\ndashboard pages, {query['from']} to {query['to']} (server time, median):")
        page_times = []
        for name in catalog.CATALOG:
            def get(name: str = name) -> Any:
                response = client.get(f"/dashboard/reports/{name}", query_string=query)
                assert response.status_code == 200, (name, response.status_code)
                return response

            client.get(f"/dashboard/reports/{name}", query_string=query)  # warm-up
            ms, _ = median_ms(get, args.runs)
            page_times.append(ms)
            print(f"  {name:18} {ms:8.1f} ms")
        print(f"  slowest page: {max(page_times):.1f} ms")
    app.extensions["loyalty.engine"].dispose()
    met = "met" if worst_rollup <= 100 and worst_ratio >= 10 else "NOT met"
    print(f"\nsummary ({dialect}): spending by sector over a calendar month, quarter or year "
          f"from rollups <= {worst_rollup:.1f} ms, >= {worst_ratio:.1f}x faster than raw "
          f"GROUP BY (goals <= 100 ms and >= 10x: {met}); over 12 months that are not a "
          f"calendar period {arbitrary[0]:.0f} ms, {arbitrary[1]:.1f}x; from released cells, "
          f"any period: every report <= {worst_released:.1f} ms (slowest "
          f"{slowest_report[0]}), sectors >= {worst_released_ratio:.1f}x faster than raw "
          f"(goal <= 100 ms: {'met' if worst_released <= 100 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
