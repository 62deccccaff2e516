"""Store receipts durably before answering, and acknowledge redeliveries without storing them twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connector.intake.base import Source
from connector.intake.request import IncomingRequest
from connector.intake.submission import Submission
from connector.journal import record
from connector.store.models import Receipt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredReceipt:
    id: int
    duplicate: bool


def store_receipt(
    sessions: sessionmaker[Session], source: Source, request: IncomingRequest, submission: Submission
) -> StoredReceipt:
    """Insert the receipt (raw body, kept headers, delivery key); a known delivery key is a duplicate."""
    headers = {name: request.header(name) for name in source.kept_headers if request.header(name)}
    receipt = Receipt(
        source=source.name,
        delivery_key=submission.delivery_key,
        event_id=submission.event_id,
        content_type=request.content_type[:255],
        headers=headers,
        body=request.body,
    )
    try:
        with sessions.begin() as session:
            session.add(receipt)
            session.flush()
            record(session, "received", f"{source.kind}/{source.name} webhook stored", receipt=receipt)
        return StoredReceipt(receipt.id, duplicate=False)
    except IntegrityError:
        pass
    with sessions.begin() as session:
        existing_id = session.scalar(
            select(Receipt.id).where(
                Receipt.source == source.name, Receipt.delivery_key == submission.delivery_key
            )
        )
        if existing_id is None:  # pragma: no cover - the conflicting row vanished (purged) in between
            raise RuntimeError("delivery key conflict without a stored receipt")
        session.execute(
            update(Receipt).where(Receipt.id == existing_id).values(duplicates=Receipt.duplicates + 1)
        )
        record(
            session,
            "duplicate",
            f"redelivery of {submission.delivery_key} acknowledged, not processed again",
            receipt_id=existing_id,
            event_id=submission.event_id,
        )
    log.info(
        "duplicate delivery source=%s receipt_id=%s event_id=%s",
        source.name,
        existing_id,
        submission.event_id,
    )
    return StoredReceipt(existing_id, duplicate=True)


def request_from_receipt(receipt: Receipt) -> IncomingRequest:
    """Rebuild what the source saw at intake, so a job parses exactly the stored bytes."""
    return IncomingRequest(
        body=receipt.body or b"", content_type=receipt.content_type, headers=receipt.headers
    )
