"""Users /admin/users (admin role): list, add, change role, remove; each change is audited."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from connector.admin.audit import record_in
from connector.admin.auth import current_user, requires
from connector.admin.blueprint import bp
from connector.admin.users import ROLES, UserError, add_user, list_users, remove_user, set_role


@bp.get("/users")
@requires("admin")
def users() -> Any:
    return _page()


@bp.post("/users")
@requires("admin")
def users_add() -> Any:
    email = request.form.get("email", "")
    role = request.form.get("role", "")
    try:
        with _db() as session, session.begin():
            created = add_user(session, email, role, request.form.get("password", ""))
            record_in(session, "user.add", created.email, None, created)
    except UserError as exc:
        return _page(error=str(exc), form={"email": email, "role": role}), 400
    flash(f"{created.email} can now sign in as {created.role}.", "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/role")
@requires("admin")
def users_set_role() -> Any:
    try:
        with _db() as session, session.begin():
            before, after = set_role(session, request.form.get("email", ""), request.form.get("role", ""))
            if before.role != after.role:
                record_in(session, "user.set_role", after.email, before, after)
    except UserError as exc:
        return _page(error=str(exc)), 400
    flash(f"{after.email} is now {after.role}.", "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/remove")
@requires("admin")
def users_remove() -> Any:
    email = request.form.get("email", "")
    user = current_user()
    if user is not None and user.email == email.strip().lower():
        return _page(error="You cannot remove yourself; another admin can."), 400
    try:
        with _db() as session, session.begin():
            removed = remove_user(session, email)
            record_in(session, "user.remove", removed.email, removed, None)
    except UserError as exc:
        return _page(error=str(exc)), 400
    flash(f"{removed.email} was removed.", "ok")
    return redirect(url_for("admin.users"))


def _db() -> Any:
    return current_app.extensions["connector"].sessions()


def _page(error: str | None = None, form: dict[str, str] | None = None) -> str:
    with _db() as session:
        rows = list_users(session)
        return render_template(
            "admin/users.html", users=rows, roles=ROLES, error=error, form=form or {"role": "viewer"}
        )
