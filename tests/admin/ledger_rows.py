"""Ledger rows written straight into the test's database, for the Events, Failures and Conversions pages'
query tests (the browser tests make theirs through real webhooks and workers)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connector.store.models import (
    Conversion,
    ConversionRequest,
    ConversionRequestEvent,
    CrmWrite,
    JournalEntry,
    Receipt,
    StageChange,
    Submission,
)
from connector.timeutil import utcnow

_keys = itertools.count(1)


def receipt(session: Session, event_id: str | None = None, **values: Any) -> Receipt:
    row = Receipt(
        source=values.pop("source", "generic"),
        delivery_key=f"key-{next(_keys)}",
        event_id=event_id,
        body=b"{}",
        status=values.pop("status", "processed"),
        **values,
    )
    session.add(row)
    session.flush()
    return row


def submission(session: Session, receipt_row: Receipt, **values: Any) -> Submission:
    attribution = values.pop("attribution", {})
    contact = values.pop("contact", {})
    row = Submission(
        receipt_id=receipt_row.id,
        source=receipt_row.source,
        event_id=receipt_row.event_id,
        email=contact.get("email"),
        contact=contact,
        attribution=attribution,
        submitted_at=values.pop("submitted_at", utcnow()),
        **values,
    )
    session.add(row)
    session.flush()
    return row


def lead(
    session: Session, event_id: str, email: str = "", oppref: str = "", **receipt_values: Any
) -> Submission:
    """A processed form receipt and its submission."""
    r = receipt(session, event_id, **receipt_values)
    attribution = {"oppref": oppref} if oppref else {}
    return submission(session, r, contact={"email": email} if email else {}, attribution=attribution)


def crm_write(session: Session, sub: Submission, **values: Any) -> CrmWrite:
    row = CrmWrite(
        submission_id=sub.id,
        event_id=sub.event_id,
        crm=values.pop("crm", "hubspot"),
        object_type=values.pop("object_type", "contacts"),
        **values,
    )
    session.add(row)
    session.flush()
    return row


def conversion(session: Session, event_id: str, pixel_id: str = "px_test_1", **values: Any) -> Conversion:
    row = Conversion(
        pixel_id=pixel_id,
        event_type=values.pop("event_type", "lead_created"),
        event_id=event_id,
        timestamp_ms=values.pop("timestamp_ms", int(utcnow().timestamp() * 1000)),
        payload=values.pop(
            "payload", {"id": event_id, "type": "lead_created", "data": {"type": "customer_action"}}
        ),
        **values,
    )
    session.add(row)
    session.flush()
    return row


def request(
    session: Session, pixel_id: str, conversions: list[Conversion] = (), **values: Any
) -> ConversionRequest:  # type: ignore[assignment]
    row = ConversionRequest(
        pixel_id=pixel_id,
        url="http://127.0.0.1/v1/events",
        event_ids=[c.event_id for c in conversions],
        event_count=len(conversions),
        **values,
    )
    session.add(row)
    session.flush()
    for c in conversions:
        session.add(ConversionRequestEvent(request_id=row.id, conversion_id=c.id))
    session.flush()
    return row


def stage_change(session: Session, record_id: str, **values: Any) -> StageChange:
    n = next(_keys)
    row = StageChange(
        crm=values.pop("crm", "hubspot"),
        object_type=values.pop("object_type", "deals"),
        record_id=record_id,
        stage=values.pop("stage", "closedwon"),
        entered_at=values.pop("entered_at", utcnow() - timedelta(minutes=1)),
        via=values.pop("via", "webhook"),
        delivery_key=f"sc-{n}",
        change_key=f"change-{n}",
        **values,
    )
    session.add(row)
    session.flush()
    return row


def journal(session: Session, event_id: str, kind: str, message: str, at: datetime | None = None) -> None:
    session.add(JournalEntry(event_id=event_id, kind=kind, message=message, at=at or utcnow()))
    session.flush()
