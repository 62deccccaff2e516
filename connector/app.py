"""The Flask application factory: a flat list of set-up steps, nothing connects at import time."""

from __future__ import annotations

from flask import Flask

import connector.sources  # noqa: F401  (registers every webhook source the routes look up)
from connector import admin
from connector.config import Settings, load_settings
from connector.context import Context
from connector.web import collect, edge, intake, ops


def create_app(settings: Settings | None = None, redis_url: str | None = None) -> Flask:
    """Build the web app for `settings` (default: load from $CONNECTOR_CONFIG and the environment)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider has it; the base type does not
    app.extensions["connector"] = Context(settings, _redis_url=redis_url)
    app.extensions["connector_secrets"] = {}
    app.register_blueprint(intake.bp)
    app.register_blueprint(collect.bp)
    app.register_blueprint(ops.bp)
    edge.init_app(app)
    admin.init_app(app)
    app.wsgi_app = intake.WebhookShortcut(app, app.wsgi_app)  # type: ignore[method-assign]
    return app
