"""Overview /admin/: is everything up, how much is waiting, what arrived in 24 hours, what needs attention."""

from __future__ import annotations

from typing import Any

from flask import render_template

from connector.admin.auth import requires
from connector.admin.blueprint import bp


@bp.get("/")
@requires("viewer")
def overview() -> Any:
    return render_template("admin/overview.html")
