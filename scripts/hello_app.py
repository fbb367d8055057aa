#!/usr/bin/env python3
"""A hello-world Flask app served exactly like `loyalty serve` (the baseline of bench_api.py).

It answers ``{"ok": true}`` to GET and POST on every path. ``main`` reuses the
gunicorn wrapper of ``loyalty serve`` (loyalty.cli._serve), so both servers run
with identical gunicorn settings: sync workers, the same bind, logs and defaults.

example:
  python scripts/hello_app.py --port 5001 --workers 2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def hello(path: str) -> dict[str, bool]:
        return {"ok": True}

    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="example:\n  python scripts/hello_app.py --port 5001 --workers 2\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    from loyalty.cli import _serve  # the very same gunicorn set-up as `loyalty serve`

    _serve(create_app, args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
