"""Conversions ledger counts for /metrics: events by status and event name, API requests by outcome.

Read from the database at scrape time, so every process reports the same numbers and a restart resets
nothing. Both read counts kept by triggers (store.counts), a few rows however long the ledger.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from connector.conversions.sender import classify_answer
from connector.store.counts import ledger_counts
from connector.store.models import ConversionStatus

STATUSES = (ConversionStatus.PENDING, ConversionStatus.SENDING, *ConversionStatus.FINAL)
"""Every status the ledger uses; each is reported (0 included) for every event name seen."""

_OUTCOMES = {"ok": "accepted", "auth": "auth_rejected", "rejected": "rejected", "retry": "retry"}
"""The sender's verdict on an HTTP answer, as a metric label."""


def conversions_by_status(session: Session) -> dict[tuple[str, str, str], int]:
    """(status, event_type, custom_event_name) -> rows, zero-filled across STATUSES."""
    found: dict[tuple[str, str, str], int] = {}
    for (status, event_type, custom_name), count in ledger_counts(session, "conversions").items():
        found[(status, event_type, custom_name or "")] = count
    # A zero keeps a series alive when its last row moves on (pending -> sent), so graphs and alerts see 0.
    for event_type, custom_name in {(e, c) for _, e, c in list(found)}:
        for status in STATUSES:
            found.setdefault((status, event_type, custom_name), 0)
    return found


def requests_by_outcome(session: Session) -> dict[tuple[str, str], int]:
    """(outcome, HTTP status or "none") -> finished Conversions API requests (in-flight ones excluded).

    Read from the counts the triggers keep per answer and HTTP status (migration 0015): grouping the
    requests themselves read the whole table, millions of rows on a ledger that has sent for months."""
    found: dict[tuple[str, str], int] = {}
    for (answer, code, _), count in ledger_counts(session, "requests").items():
        if answer == "in_flight":  # written before the send; counted once its answer is recorded
            continue
        status = int(code) if code else None
        outcome = _OUTCOMES[classify_answer(status)] if answer == "answered" else answer
        key = (outcome, code or "none")
        found[key] = found.get(key, 0) + count
    return found
