"""Template filters: times as "3 min ago", counts with thousands separators."""

from __future__ import annotations

from datetime import datetime

from connector.timeutil import as_utc, utcnow


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((now or utcnow()) - as_utc(value)).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 86400 * 30:
        return f"{seconds // 86400} d ago"
    return as_utc(value).strftime("%Y-%m-%d")


def number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
