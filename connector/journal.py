"""The journal: an append-only log of what happened to each receipt and event_id."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connector.store.models import JournalEntry, Receipt


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
    session.add(
        JournalEntry(
            receipt_id=receipt.id if receipt is not None else receipt_id,
            event_id=event_id or (receipt.event_id if receipt is not None else None),
            kind=kind,
            message=message,
            details=details or {},
        )
    )
