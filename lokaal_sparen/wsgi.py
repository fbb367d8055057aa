"""The app a server runs, for gunicorn: `gunicorn 'lokaal_sparen.wsgi:served_app()'`.

`loyalty serve` and `loyalty demo` start gunicorn with this very name.
"""

from __future__ import annotations

from flask import Flask

from lokaal_sparen.app import create_app
from loyalty.infra.db import start_wal_checkpoints


def served_app() -> Flask:
    """The app of one server worker, which checkpoints SQLite in the background."""
    app = create_app()
    app.extensions["loyalty.wal_checkpoints"] = start_wal_checkpoints(
        app.extensions["loyalty.engine"]
    )
    return app
