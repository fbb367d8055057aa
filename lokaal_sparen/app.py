"""The composition root: the one place where the core, the JSON API and the three
page front ends are put together into a Flask app, and the `loyalty` command
that runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.cli import FlaskGroup
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import configure_mappers

import consumer_web
import merchant_portal
import municipality_dashboard
from lokaal_sparen import cli, config
from loyalty import api, web
from loyalty.api import apple_passes, stripe_webhook
from loyalty.infra.db import make_engine, make_session_factory
from loyalty.infra.replica import make_replica_engine
from loyalty.web import health, i18n, replica, request_log
from loyalty.web.signin import views as signin_pages

# Macros every front end's forms use (forms.html).
SHARED_TEMPLATES = Path(web.__file__).resolve().parent / "templates"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app. Only wiring: no migrations, no network calls."""
    app = web.App(__name__, instance_relative_config=True, template_folder=SHARED_TEMPLATES)
    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    app.config.from_mapping(config.host_settings(app.config.get("PUBLIC_URL")))
    # First: the JSON log handler must be in place before Flask's logger is made.
    request_log.init_app(app)

    # Set the ORM's mappers up now, not in the first request that touches
    # one (a third of a second; the earn path may not touch one for a while).
    configure_mappers()
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["loyalty.engine"] = engine
    web.init_app(app, make_session_factory(engine))
    replica_url = app.config.get("DATABASE_REPLICA_URL")
    # An engine connects on first use only: no network here.
    replica.init_app(app, make_replica_engine(replica_url) if replica_url else None)
    i18n.init_app(app)
    csrf = CSRFProtect(app)
    smorest = api.init_app(app)
    # The API authenticates with bearer tokens, never cookies: no CSRF there.
    for blueprint in smorest.blueprints:
        csrf.exempt(blueprint)
    # Stripe signs its webhook deliveries instead (loyalty.api.stripe_webhook).
    app.register_blueprint(stripe_webhook.bp)
    csrf.exempt(stripe_webhook.bp)
    # The Wallet app authenticates with its pass's ApplePass token, never cookies.
    app.register_blueprint(apple_passes.bp)
    csrf.exempt(apple_passes.bp)
    signin_pages.init_app(app)
    app.register_blueprint(consumer_web.bp)
    app.register_blueprint(merchant_portal.bp)
    app.register_blueprint(municipality_dashboard.bp)
    health.init_app(app)
    cli.register(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address and scheme as the proxies in front saw them; the
        # Host header is passed through unchanged by them (TRUSTED_HOSTS checks it).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies
        )

    @app.get("/favicon.ico")
    def _favicon() -> Any:
        # Browsers ask for it on pages without an icon link (plain error pages).
        return signin_pages.bp.send_static_file("icon.svg")

    @app.after_request
    def _security_headers(response: Any) -> Any:
        for name, value in web.SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


def main() -> None:
    """The `loyalty` command: the app's commands (lokaal_sparen.cli) on the app."""
    command = FlaskGroup(
        name="loyalty",
        create_app=create_app,
        add_version_option=False,
        add_default_commands=False,
        help="Lokaal Sparen: local loyalty points for Flemish municipalities.\n\n"
        "Example: loyalty demo",
    )
    command.main(prog_name="loyalty")
