"""Audit /admin/audit: every change made in the console (and to its users from the command line),
newest first."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from sqlalchemy import select

from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.paging import newest_first
from connector.store.models import AdminAudit


@bp.get("/audit")
@requires("viewer")
def audit() -> Any:
    query = select(AdminAudit)
    actor = request.args.get("actor", "").strip()
    if actor:
        query = query.where(AdminAudit.actor == actor)
    with current_app.extensions["connector"].sessions() as session:
        page = newest_first(session, query, AdminAudit.id)
        return render_template("admin/audit.html", page=page, actor=actor)
