"""The admin console under /admin: sign-in and roles, audit, and one module per page (issue 16).

`init_app(app)` registers the blueprint and configures the session cookie; every module in
`connector/admin/pages/` is imported, so a page that exists is served.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta
from typing import TYPE_CHECKING

from connector.admin.secret_key import session_secret_key

if TYPE_CHECKING:
    from flask import Flask

    from connector.config import Settings

SESSION_COOKIE = "connector_admin"

_pages_loaded = False


def init_app(app: Flask) -> None:
    """Serve the console and sign its session cookie (HttpOnly, SameSite=Lax, Secure behind https)."""
    # Imported here, not at package import: `connector admin add-user` needs none of the web parts.
    from connector.admin import pages
    from connector.admin.blueprint import bp

    global _pages_loaded
    if not _pages_loaded:  # once per process: the blueprint takes no routes after its first registration
        for page in pkgutil.iter_modules(pages.__path__):
            importlib.import_module(f"{pages.__name__}.{page.name}")
        _pages_loaded = True
    settings: Settings = app.extensions["connector"].settings
    app.secret_key = session_secret_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH="/admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web.public_url.startswith("https://"),
        # Permanent sessions are re-signed on every request and refused once older than this: an idle
        # timeout checked against the signature's own timestamp.
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.admin.idle_timeout_seconds),
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    app.register_blueprint(bp)
