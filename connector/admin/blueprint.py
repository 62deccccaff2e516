"""The console's blueprint: every page module adds its routes to `bp`.

Before each console request: the console is off (a 404 page saying how to turn it on) until a user exists,
and a state-changing request must carry the session's CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from connector.admin import csrf, formatting
from connector.admin.auth import current_user
from connector.admin.users import any_user

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")


@bp.before_request
def _console_on() -> Any:
    if request.endpoint == "admin.static":
        return None
    if not _has_users():
        return render_template("admin/off.html"), 404
    csrf.protect()
    return None


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"csrf_field": csrf.csrf_field, "csrf_token": csrf.token, "current_user": current_user}


bp.add_app_template_filter(formatting.ago, "ago")
bp.add_app_template_filter(formatting.number, "number")


def _error_page(exc: HTTPException) -> Any:
    """Console errors as pages in the console's layout (the webhooks keep their JSON errors)."""
    if exc.code is not None and exc.code < 400:
        return exc
    return render_template("admin/error.html", error=exc), exc.code or 500


bp.register_error_handler(HTTPException, _error_page)
for _code in (404, 405):  # the app's JSON handlers for these codes would win over a class handler
    bp.register_error_handler(_code, _error_page)


@bp.get("/<path:_unknown>")
def _not_found(_unknown: str) -> Any:
    """A console URL no page serves: the console's 404 page (the app's own 404 is a JSON error)."""
    abort(404, description="No console page has this address.")


def _has_users() -> bool:
    # Once a user exists the console stays on (the last admin cannot be removed): asked once per process.
    state: dict[str, bool] = current_app.extensions.setdefault("connector_admin", {})
    if not state.get("on"):
        state["on"] = any_user(current_app.extensions["connector"].engine)
    return state["on"]
