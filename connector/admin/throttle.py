"""Sign-in rate limit: recent failures per email and per client IP, counted in the database (so every
web process sees the same count)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from connector.config import AdminSettings
from connector.store.models import AdminSignInFailure
from connector.timeutil import as_utc, utcnow


def retry_after(session: Session, conf: AdminSettings, email: str, ip: str) -> int:
    """Seconds until this email and IP may try again: 0 when under the limit."""
    since = utcnow() - timedelta(seconds=conf.sign_in_window_seconds)
    worst = 0
    for column, value in ((AdminSignInFailure.email, email), (AdminSignInFailure.ip, ip)):
        count, oldest = session.execute(
            select(func.count(), func.min(AdminSignInFailure.at)).where(
                column == value, AdminSignInFailure.at >= since
            )
        ).one()
        if count >= conf.sign_in_attempts and oldest is not None:
            wait = conf.sign_in_window_seconds - int((utcnow() - as_utc(oldest)).total_seconds())
            worst = max(worst, wait, 1)
    return worst


def failed(session: Session, conf: AdminSettings, email: str, ip: str) -> None:
    """Count one failure (and drop failures past the window, so the table stays small)."""
    session.add(AdminSignInFailure(email=email[:320], ip=ip[:64]))
    old = utcnow() - timedelta(seconds=conf.sign_in_window_seconds)
    session.execute(
        delete(AdminSignInFailure).where(
            AdminSignInFailure.at < old,
            or_(AdminSignInFailure.email == email, AdminSignInFailure.ip == ip),
        )
    )


def succeeded(session: Session, email: str) -> None:
    """A correct password clears that email's failures (the IP's stay: one IP trying many emails)."""
    session.execute(delete(AdminSignInFailure).where(AdminSignInFailure.email == email))
