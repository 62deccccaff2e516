"""The Flask application factory: a flat list of set-up steps, nothing connects at import time."""

from __future__ import annotations

from flask import Flask, jsonify

from connector.config import Settings, load_settings
from connector.context import Context


def create_app(settings: Settings | None = None, redis_url: str | None = None) -> Flask:
    """Build the web app for `settings` (default: load from $CONNECTOR_CONFIG and the environment)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions["connector"] = Context(settings, _redis_url=redis_url)
    app.extensions["connector_secrets"] = {}
    _register_blueprints(app)
    _register_error_handlers(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from connector.web import collect, intake, ops

    app.register_blueprint(intake.bp)
    app.register_blueprint(collect.bp)
    app.register_blueprint(ops.bp)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_exc):  # type: ignore[no-untyped-def]
        return jsonify(error="not found", status=404), 404

    @app.errorhandler(405)
    def method_not_allowed(_exc):  # type: ignore[no-untyped-def]
        return jsonify(error="method not allowed", status=405), 405

    @app.errorhandler(500)
    def internal_error(_exc):  # type: ignore[no-untyped-def]
        return jsonify(error="internal error", status=500), 500
