"""Conversions ledger counts for /metrics: events by status and event name, API requests by outcome.

Read from the database at scrape time, so every process reports the same numbers and a restart resets
nothing. Each family is one grouped query; the conversions' counts are kept by triggers (store.counts).
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from connector.conversions.dispatch import LOST
from connector.conversions.outcomes import IN_FLIGHT
from connector.conversions.sender import classify_answer
from connector.store.counts import ledger_counts
from connector.store.models import ConversionRequest, ConversionStatus

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
    """(outcome, HTTP status or "none") -> finished Conversions API requests (in-flight ones excluded)."""
    kind = case(
        (ConversionRequest.status_code.is_not(None), "answered"),
        (ConversionRequest.error == LOST, "no_response"),  # the worker died waiting; the sweeper resent
        else_="network_error",
    )
    rows = session.execute(
        select(ConversionRequest.status_code, kind, func.count())
        .where(ConversionRequest.error.is_distinct_from(IN_FLIGHT))
        .group_by(ConversionRequest.status_code, kind)
    )
    found: dict[tuple[str, str], int] = {}
    for code, answer, count in rows:
        outcome = _OUTCOMES[classify_answer(code)] if answer == "answered" else answer
        key = (outcome, "none" if code is None else str(code))
        found[key] = found.get(key, 0) + count
    return found
