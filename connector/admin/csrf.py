"""CSRF protection for the console: a random token per session, in every form and in htmx's header.

Every POST (and PUT, PATCH, DELETE) under /admin must carry it (`csrf_token` form field or the
`X-CSRF-Token` header); the webhooks live outside the blueprint and are not touched.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session
from markupsafe import Markup, escape

SESSION_KEY = "admin_csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def token() -> str:
    """This session's token (created on first use)."""
    value = session.get(SESSION_KEY)
    if not value:
        value = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return str(value)


def rotate() -> None:
    """A fresh token (at sign-in: a token seen before signing in is not the signed-in session's)."""
    session[SESSION_KEY] = secrets.token_urlsafe(32)


def csrf_field() -> Markup:
    """The hidden input a template puts inside every <form method="post">."""
    return Markup(f'<input type="hidden" name="{FORM_FIELD}" value="{escape(token())}">')


def protect() -> None:
    """before_request: refuse a state-changing request whose token is missing or wrong (400)."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    presented = request.form.get(FORM_FIELD) or request.headers.get(HEADER) or ""
    if not expected or not hmac.compare_digest(str(presented).encode(), str(expected).encode()):
        abort(400, description="The form expired or did not come from this console. Reload and try again.")
