"""Who is signed in, and the `requires(role)` guard every console view wears.

A session holds only the user's id: the role is read from the database on each request, so a role change
or a removal applies at once. An SSO proxy may name the user in `admin.trusted_header` instead, honoured
only from `admin.trusted_proxies` and only for an existing user.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import select

from connector.admin.users import ROLES, rank
from connector.store.models import AdminUser

F = TypeVar("F", bound=Callable[..., Any])

SESSION_USER = "admin_uid"
"""Session key holding the signed-in user's id."""


@dataclass(frozen=True)
class CurrentUser:
    id: int
    email: str
    role: str
    via: str
    """`password` (signed in here) or `sso` (named by the trusted proxy's header)."""

    def can(self, role: str) -> bool:
        return rank(self.role) >= rank(role)


def current_user() -> CurrentUser | None:
    """The user this request acts for, or None (loaded once per request)."""
    if "admin_user" not in g:
        g.admin_user = _load()
    user: CurrentUser | None = g.admin_user
    return user


def requires(role: str) -> Callable[[F], F]:
    """View decorator: anonymous -> the sign-in page (coming back here after); a weaker role -> 403."""
    if role not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))
            if not user.can(role):
                abort(403, description=f"This needs the {role} role; you are signed in as {user.role}.")
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def _load() -> CurrentUser | None:
    ctx = current_app.extensions["connector"]
    email = _trusted_email()
    uid = session.get(SESSION_USER)
    if email is None and uid is None:
        return None
    with ctx.sessions() as db:
        if email is not None:
            row = db.scalar(select(AdminUser).where(AdminUser.email == email))
            via = "sso"
        else:
            row = db.get(AdminUser, uid)
            via = "password"
        if row is None:
            if uid is not None:
                session.pop(SESSION_USER, None)  # the user was removed: signed out
            return None
        return CurrentUser(row.id, row.email, row.role, via)


def _trusted_email() -> str | None:
    """The email the SSO proxy's header names, when the header is on and this request came from it."""
    conf = current_app.extensions["connector"].settings.admin
    if not conf.trusted_header:
        return None
    value = request.headers.get(conf.trusted_header, "").strip().lower()
    if not value or not _from_trusted_proxy(request.remote_addr or "", conf.trusted_proxies):
        return None
    return value


def _from_trusted_proxy(address: str, proxies: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(proxy, strict=False) for proxy in proxies)
