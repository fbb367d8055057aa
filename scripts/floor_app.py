#!/usr/bin/env python3
"""The floor of this stack for one durable write (the baseline of bench_api.py).

A minimal Flask app served exactly like `loyalty serve` (the same gunicorn
wrapper, lokaal_sparen.cli.run_gunicorn, with each worker checkpointing SQLite in the
background as `loyalty serve`'s do) whose one view, POST /floor, INSERTs one row
and COMMITs on the same database with the project's connection settings
(loyalty.infra.db.make_engine). No sale can be faster than this through the same stack.

A second view, POST /domain/claims/<token>/claim, is the collect without the API
layer: the same bare view runs the domain's own work of a collect (the wallet's
token lookup, then loyalty.earning.claims.claim_points) in one transaction. It
tells how much of a collect's cost is the request path (Flask's hooks, the
schemas, authentication) and how much the domain and its statements. Users never
reach it: it exists only in this benchmark app.

The table ``bench_floor`` must exist (bench_api.py makes it).

example:
  DATABASE_URL=sqlite:////tmp/bench.db python scripts/floor_app.py --port 5001 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, request

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

TABLE = sa.Table(
    "bench_floor", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.String(200), nullable=False),
)


def create_app() -> Flask:
    from loyalty.earning import claims
    from loyalty.infra.db import (
        make_engine,
        make_session_factory,
        start_wal_checkpoints,
        utcnow,
    )
    from loyalty.shoppers import wallets

    app = Flask(__name__)
    engine = make_engine(os.environ["DATABASE_URL"])
    app.extensions["wal_checkpoints"] = start_wal_checkpoints(engine)
    insert = TABLE.insert()
    sessions = make_session_factory(engine)

    @app.post("/floor")
    def floor() -> tuple[dict[str, int], int]:
        # engine.begin() opens a write transaction (BEGIN IMMEDIATE on SQLite,
        # as the project's write requests do) and commits when the block ends.
        with engine.begin() as conn:
            row_id = conn.execute(insert, {"body": request.get_data(as_text=True)[:200]}
                                  ).inserted_primary_key[0]
        return {"id": row_id}, 201

    @app.post("/domain/claims/<token>/claim")
    def domain_collect(token: str) -> tuple[dict[str, int], int]:
        # One write transaction (BEGIN IMMEDIATE on SQLite, the engine's default
        # outside a request of `loyalty serve`), committed when the sale is done.
        with sessions() as session:
            holder = wallets.holder_of_token(
                session, request.headers.get("Authorization", "").removeprefix("Bearer "))
            result = claims.claim_points(session, token, holder, utcnow())
            session.commit()
        return {"points": result.points_credited, "balance": result.balance}, 200

    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="example:\n  DATABASE_URL=sqlite:////tmp/bench.db "
        "python scripts/floor_app.py --port 5001 --workers 2\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    from lokaal_sparen.cli import run_gunicorn  # the very same gunicorn set-up as `loyalty serve`

    run_gunicorn(create_app, args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
