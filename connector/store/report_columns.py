"""The report's columns of a submission, derived from its email, event id and attribution.

Written by the model's insert/update hook (so in the transaction that writes the row) and by migration
0010's backfill; the report (connector.report) groups and counts on them, never on the JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

TOUCHES = ("first", "latest")
"""The two touches a submission records."""

TOUCH_COLUMNS = {
    "channel": 32,
    "ai_source": 32,
    "utm_source": 100,
    "utm_medium": 100,
    "utm_campaign": 100,
    "landing_page": 200,
}
"""Per touch: attribution field -> column length (the column is `<touch>_<field>`)."""


def person_key(email: str | None, event_id: str | None, receipt_id: int | None) -> str:
    """A short pseudonymous key of the person: their email, else their event id, else the receipt.

    Hashed, so counting distinct people never needs the address itself; an erased email (forget) turns the
    key into the event id's, which no longer names the address."""
    if email:
        basis = "email:" + email.strip().lower()
    elif event_id:
        basis = "event:" + event_id
    else:
        basis = f"receipt:{receipt_id}"
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def landing_path(url: str) -> str:
    """A landing page without its query and fragment (they hold click ids and UTMs, not the page)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0]
    if not parts.netloc:
        return parts.path or url.split("?", 1)[0]
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path or '/'}" if parts.scheme else parts.netloc + parts.path
    )


def report_values(
    email: str | None, event_id: str | None, receipt_id: int | None, attribution: Mapping[str, Any] | None
) -> dict[str, str | None]:
    """Column name -> value for one submission (None where the attribution has no value)."""
    values: dict[str, str | None] = {"person_key": person_key(email, event_id, receipt_id)}
    attribution = attribution or {}
    for touch in TOUCHES:
        for name, length in TOUCH_COLUMNS.items():
            raw = attribution.get(f"{touch}_{name}")
            text = str(raw).strip() if raw is not None and not isinstance(raw, (dict, list)) else ""
            if name in ("channel", "ai_source", "utm_source", "utm_medium"):
                text = text.lower()
            if name == "landing_page" and text:
                text = landing_path(text)
            values[f"{touch}_{name}"] = text[:length] or None
    return values


def fill_report_columns(_mapper: Any, _connection: Any, row: Any) -> None:
    """ORM hook: set the report columns from the row's current values before it is written."""
    for name, value in report_values(row.email, row.event_id, row.receipt_id, row.attribution).items():
        setattr(row, name, value)
