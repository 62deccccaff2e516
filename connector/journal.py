"""The journal: an append-only log of what happened to each receipt and event_id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connector.store.fit import fit_values
from connector.store.models import JournalEntry, Receipt
from connector.timeutil import utcnow

BUFFER = "connector.journal_buffer"
"""session.info key: the lines of a transaction that writes them in one INSERT before its commit."""


def record(
    session: Session,
    kind: str,
    message: str,
    *,
    receipt: Receipt | None = None,
    receipt_id: int | None = None,
    event_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one journal line in the caller's transaction."""
    line = {
        "receipt_id": receipt.id if receipt is not None else receipt_id,
        "event_id": event_id or (receipt.event_id if receipt is not None else None),
        "kind": kind,
        "message": message,
        "details": details or {},
    }
    buffer = session.info.get(BUFFER)
    if buffer is not None:
        buffer.append({"at": utcnow(), **line})
    else:
        session.add(JournalEntry(**line))


def buffer_lines(session: Session) -> None:
    """From now on the session's journal lines wait for `write_buffered` (no flush of their own)."""
    session.info[BUFFER] = []


def write_buffered(session: Session) -> None:
    """Insert the buffered lines in one statement, in the order they were recorded."""
    lines = session.info.pop(BUFFER, None)
    if lines:
        session.execute(insert(JournalEntry), [fit_values(JournalEntry, line)[0] for line in lines])
