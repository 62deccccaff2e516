"""The audit log: who changed what in the console, when, with the values before and after."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy.orm import Session

from connector.store.models import AdminAudit


def record(
    action: str, target: str, before: object = None, after: object = None, *, actor: str | None = None
) -> None:
    """Write one audit row in its own transaction; the actor is the signed-in user of this request."""
    from connector.admin.auth import current_user

    ctx = current_app.extensions["connector"]
    user = current_user() if has_request_context() else None
    who = actor or (user.email if user else "anonymous")
    ip = request.remote_addr if has_request_context() else None
    with ctx.sessions() as session, session.begin():
        write(session, who, action, target, before, after, ip)


def record_in(
    session: Session, action: str, target: str, before: object = None, after: object = None
) -> None:
    """Like `record`, inside the caller's transaction: the change and its audit row commit together."""
    from connector.admin.auth import current_user

    user = current_user()
    write(session, user.email if user else "anonymous", action, target, before, after, request.remote_addr)


def write(
    session: Session,
    actor: str,
    action: str,
    target: str,
    before: object = None,
    after: object = None,
    ip: str | None = None,
) -> None:
    """Add one audit row to the caller's transaction (the command line's changes, or a page's)."""
    session.add(
        AdminAudit(
            actor=actor, action=action, target=target, before=_plain(before), after=_plain(after), ip=ip
        )
    )


def _plain(value: object) -> Any:
    """JSON-ready: objects with as_dict() (UserView) become dicts; anything else not JSON becomes text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return _plain(as_dict())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
