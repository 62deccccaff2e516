"""Sign-in and sign-out."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for

from connector.admin import csrf, throttle
from connector.admin.auth import SESSION_USER, current_user
from connector.admin.blueprint import bp
from connector.admin.users import authenticate


@bp.get("/sign-in")
def sign_in() -> Any:
    if current_user() is not None:
        return redirect(_next_url())
    return render_template("admin/sign_in.html", next=_next_url(), email="", error=None)


@bp.post("/sign-in")
def sign_in_post() -> Any:
    ctx = current_app.extensions["connector"]
    conf = ctx.settings.admin
    email = request.form.get("email", "").strip().lower()[:320]
    password = request.form.get("password", "")
    ip = request.remote_addr or ""
    with ctx.sessions() as db, db.begin():
        wait = throttle.retry_after(db, conf, email, ip)
        if wait:
            minutes = max(1, round(wait / 60))
            error = f"Too many failed sign-ins. Try again in about {minutes} minute{'s' * (minutes > 1)}."
            page = render_template("admin/sign_in.html", next=_next_url(), email=email, error=error)
            return page, 429, {"Retry-After": str(wait)}
        user = authenticate(db, email, password) if email and password else None
        if user is None:
            throttle.failed(db, conf, email, ip)
        else:
            throttle.succeeded(db, email)
            uid = user.id
    if user is None:
        error = "Wrong email or password."
        return render_template("admin/sign_in.html", next=_next_url(), email=email, error=error), 401
    session.clear()  # a session from before signing in (its CSRF token) is not carried over
    session.permanent = True
    session[SESSION_USER] = uid
    csrf.rotate()
    return redirect(_next_url())


@bp.post("/sign-out")
def sign_out() -> Any:
    session.clear()
    return redirect(url_for("admin.sign_in"))


def _next_url() -> str:
    """Where to go after signing in: a console path from `next`, never another site."""
    target = request.values.get("next", "")
    if target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.overview")
