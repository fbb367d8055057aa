#!/usr/bin/env python3
"""Generate purchase events for a scheme (benchmarks, large demos), then fold them
into the rollups.

Creates the scheme (Sint-Gillis-Waas's villages) with 20 shops when it does not
exist. Events have believable patterns (see loyalty.analytics.generate).

Example:
  DATABASE_URL=postgresql://postgres@127.0.0.1/bench .venv/bin/python scripts/generate_events.py \\
      --events 1000000 --scheme bench-sgw
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date

import sqlalchemy as sa

SECTORS = ["47.24", "47.22", "56.102", "56.301", "47.73", "47.61", "47.71", "47.721", "47.76",
           "47.64", "96.021", "47.782", "47.11", "47.22", "47.52", "47.65", "47.25", "47.24",
           "56.101", "47.75"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="how many (default 1M)")
    parser.add_argument("--scheme", default="bench-sint-gillis-waas", help="scheme slug")
    parser.add_argument("--days", type=int, default=365, help="spread over this many days")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 10, 31),
                        help="last local date (default 2026-10-31)")
    parser.add_argument("--seed", type=int, default=46020)
    parser.add_argument("--no-refresh", action="store_true", help="do not fold into rollups")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="default: $DATABASE_URL, else the instance SQLite database")
    args = parser.parse_args(argv)

    from loyalty.analytics import generate, rollups
    from loyalty.infra.db import make_engine, make_session_factory
    from loyalty.infra.migrate import upgrade
    from loyalty.models import MerchantStatus, Scheme
    from loyalty.town import schemes

    url = args.database_url or "sqlite:///instance/loyalty.db"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    started = time.monotonic()
    with sessions() as session, session.begin():
        scheme = session.scalar(sa.select(Scheme).where(Scheme.slug == args.scheme))
        if scheme is None:
            scheme = schemes.create_scheme(session, args.scheme, "Sint-Gillis-Waas (bench)",
                                           nis_code="46020",
                                           villages=["Sint-Gillis-Waas", "De Klinge",
                                                     "Meerdonk", "Sint-Pauwels"])
            for i, sector in enumerate(SECTORS, start=1):
                schemes.create_merchant(session, scheme, name=f"Winkel {i}", sector=sector,
                                        postcode="9170", email=f"winkel{i}@bench.example",
                                        status=MerchantStatus.APPROVED)
            session.flush()
        shown = [-1]

        def progress(done: int, total: int) -> None:
            if done * 10 // total != shown[0]:
                shown[0] = done * 10 // total
                print(f"  generated {done:,}/{total:,} events "
                      f"({time.monotonic() - started:.0f} s)", flush=True)

        result = generate.generate_events(session, scheme, args.events, end=args.end,
                                          days=args.days, seed=args.seed, progress=progress)
        scheme_id = scheme.id
    generated_s = time.monotonic() - started
    refresh_s = 0.0
    if not args.no_refresh:
        folding = time.monotonic()
        shown[0] = -1
        with sessions() as session, session.begin():
            scheme = session.get_one(Scheme, scheme_id)

            def folded(done: int, total: int) -> None:
                if done * 10 // max(total, 1) != shown[0]:
                    shown[0] = done * 10 // max(total, 1)
                    print(f"  folded {done:,}/{total:,} events into the rollups "
                          f"({time.monotonic() - folding:.0f} s)", flush=True)

            rollups.refresh(session, scheme, progress=folded)
        refresh_s = time.monotonic() - folding
    engine.dispose()
    print(f"generated {result.events:,} events for {args.scheme} ({result.shoppers:,} shoppers, "
          f"{result.shops} shops, {result.first_day} to {result.last_day}) in {generated_s:.1f} s"
          f"; rollups refreshed in {refresh_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
