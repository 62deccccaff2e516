"""Console users: add, list, change role, remove, authenticate. Shared by `connector admin` and the
Users page; every change returns what it was before and after, for the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connector.admin.passwords import burn_time, hash_password, verify_password
from connector.store.models import AdminUser
from connector.timeutil import utcnow

ROLES = ("viewer", "editor", "admin")
"""Console roles, weakest first: each can do what the ones before it can."""

_EMAIL = re.compile(r"\A[^@\s]{1,200}@[^@\s]{1,118}\Z")


class UserError(ValueError):
    """A user change that cannot be made; the message says why."""


@dataclass(frozen=True)
class UserView:
    """What the audit log and the pages show of a user (never the hash)."""

    email: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"email": self.email, "role": self.role}


def rank(role: str) -> int:
    return ROLES.index(role)


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UserError(f"email: expected an address such as ada@example.com, got {email!r}")
    return email


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    return role


def any_user(engine: Engine) -> bool:
    """Is there at least one console user (the console is off until there is)?"""
    with Session(engine) as session:
        return session.scalar(select(AdminUser.id).limit(1)) is not None


def find(session: Session, email: str) -> AdminUser | None:
    return session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower()))


def list_users(session: Session) -> list[AdminUser]:
    return list(session.scalars(select(AdminUser).order_by(AdminUser.email)))


def add_user(session: Session, email: str, role: str, password: str) -> UserView:
    """Create a user (in the caller's transaction); refuses an email that already is one."""
    email = normalize_email(email)
    check_role(role)
    if find(session, email) is not None:
        raise UserError(f"{email} is already a console user")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    session.add(AdminUser(email=email, role=role, password_hash=password_hash))
    session.flush()
    return UserView(email, role)


def set_role(session: Session, email: str, role: str) -> tuple[UserView, UserView]:
    """Change a user's role; refuses to demote the last admin. Returns (before, after)."""
    user = _existing(session, email)
    check_role(role)
    before = UserView(user.email, user.role)
    if user.role == "admin" and role != "admin":
        _keep_an_admin(session)
    user.role = role
    session.flush()
    return before, UserView(user.email, role)


def remove_user(session: Session, email: str) -> UserView:
    """Delete a user; refuses to remove the last admin. Returns what was removed."""
    user = _existing(session, email)
    if user.role == "admin":
        _keep_an_admin(session)
    removed = UserView(user.email, user.role)
    session.delete(user)
    session.flush()
    return removed


def authenticate(session: Session, email: str, password: str) -> AdminUser | None:
    """The user whose email and password these are, else None (spending the same time either way)."""
    user = find(session, email)
    if user is None:
        burn_time(password)
        return None
    if not verify_password(password, user.password_hash):
        return None
    user.last_sign_in_at = utcnow()
    return user


def _existing(session: Session, email: str) -> AdminUser:
    user = find(session, email)
    if user is None:
        raise UserError(f"{email.strip().lower()} is not a console user")
    return user


def _keep_an_admin(session: Session) -> None:
    admins = session.scalar(select(func.count()).select_from(AdminUser).where(AdminUser.role == "admin"))
    if (admins or 0) <= 1:
        raise UserError("this is the last admin: make another user admin first")
