"""`connector forget EMAIL|EVENT_ID`: erase one person's personal data from the ledger, keep what reports count.

The person is every submission with that email, or, for an event id, the submissions of that event and of the
emails they carry. What goes: contact fields, the raw request bodies and their identifying headers (IP
address, user agent), the landing pages, referrers and click ids of their touches and bookings, the values
written to the CRM as recorded here, the user data of their conversions, the recorded Conversions API request
bodies that held them, and journal details. What stays, so counts and reports still add up: each row, its
status and times, the channel, AI source and UTMs of each touch, the event id, and a journal line saying that
an erasure happened (never whom). CRM writes, opportunity/deal attribution writes and conversions still
queued are cancelled. What already reached the CRM or OpenAI is not erased here: README.md ("Erasing one
person") says how to erase it there.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector.attribution import UTM_PARAMS
from connector.context import Context
from connector.journal import record
from connector.store.models import (
    Booking,
    Conversion,
    ConversionRequest,
    ConversionRequestEvent,
    ConversionStatus,
    CrmWrite,
    DealAttribution,
    DealAttributionStatus,
    JournalEntry,
    Receipt,
    Submission,
    WriteStatus,
)
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

KEPT_TOUCH_FIELDS = (*UTM_PARAMS, "channel", "ai_source", "touch_at")
"""Of each touch, what reports count (first_/latest_ + these); landing pages, referrers and click ids go."""

KEPT_ATTRIBUTION = frozenset(
    {f"{when}_{name}" for when in ("first", "latest") for name in KEPT_TOUCH_FIELDS}
    | {"event_id", "consent", "submitted_at"}
)

KEPT_HEADERS = frozenset({"content-type"})
"""Of a receipt's stored headers, what says nothing about the sender."""

FORGOTTEN = "forgotten"
"""The reason recorded on a CRM write or conversion cancelled by an erasure."""


@dataclass
class Erasure:
    """What an erasure found (and, unless a dry run, changed), by table."""

    submissions: int = 0
    receipts: int = 0
    bookings: int = 0
    crm_writes: int = 0
    crm_writes_cancelled: int = 0
    deal_attributions: int = 0
    deal_attributions_cancelled: int = 0
    conversions: int = 0
    conversions_cancelled: int = 0
    conversion_requests: int = 0
    journal_entries: int = 0
    event_ids: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"submissions: {self.submissions} (contact fields, landing pages, referrers and click ids)",
            f"receipts: {self.receipts} (raw bodies and identifying headers)",
            f"bookings: {self.bookings}",
            f"CRM writes: {self.crm_writes} (values recorded here), {self.crm_writes_cancelled} queued cancelled",
            f"opportunity/deal attributions: {self.deal_attributions} (values recorded here), "
            f"{self.deal_attributions_cancelled} queued cancelled",
            f"conversions: {self.conversions} (user data), {self.conversions_cancelled} queued cancelled",
            f"Conversions API request bodies: {self.conversion_requests}",
            f"journal entries: {self.journal_entries} (details)",
        ]


def forget(ctx: Context, who: str, dry_run: bool = False) -> Erasure:
    """Erase the personal data of the person `who` names (an email, or an event id); see the module doc.
    A dry run makes the same changes in a transaction it then rolls back."""
    with ctx.sessions() as session:
        submissions = _submissions_of(session, who.strip())
        found = _erase(session, submissions)
        if dry_run or not submissions:
            session.rollback()
            return found
        record(
            session,
            "erasure",
            f"personal data of one person erased (connector forget): {found.submissions} submission(s)",
            details={k: v for k, v in vars(found).items() if isinstance(v, int)},
        )
        session.commit()
    log.info("erased the personal data of one person: %s submission(s)", found.submissions)
    return found


def _submissions_of(session: Session, who: str) -> list[Submission]:
    """An email's submissions; for an event id, that event's and those of every email it carries."""
    if "@" in who:
        condition = Submission.email == who.lower()
    else:
        emails = session.scalars(select(Submission.email).where(Submission.event_id == who)).all()
        condition = or_(Submission.event_id == who, Submission.email.in_([e for e in emails if e]))
    return list(session.scalars(select(Submission).where(condition).order_by(Submission.id)))


def _erase(session: Session, submissions: list[Submission]) -> Erasure:
    """Change, in the session, every row that holds these submissions' personal data; count what changed."""
    found = Erasure()
    if not submissions:
        return found
    ids = [s.id for s in submissions]
    receipt_ids = {s.receipt_id for s in submissions}
    event_ids = sorted({s.event_id for s in submissions if s.event_id})
    found.event_ids = event_ids
    found.submissions = len(submissions)
    for submission in submissions:
        submission.email = None
        submission.contact = {}
        submission.attribution = _kept(submission.attribution)
        submission.meta = {k: v for k, v in submission.meta.items() if k == "form_name"}

    bookings = list(
        session.scalars(
            select(Booking).where(or_(Booking.submission_id.in_(ids), Booking.event_id.in_(event_ids)))
        )
    )
    found.bookings = len(bookings)
    for booking in bookings:
        receipt_ids |= {r for r in (booking.receipt_id, booking.beacon_receipt_id) if r is not None}
        booking.attribution = _kept(booking.attribution)
        booking.booking_key = "forgotten:" + hashlib.sha256(booking.booking_key.encode()).hexdigest()[:40]
        booking.cancel_reason = None

    receipts = list(session.scalars(select(Receipt).where(Receipt.id.in_(receipt_ids))))
    found.receipts = len(receipts)
    for receipt in receipts:
        receipt.body = None
        receipt.body_purged_at = receipt.body_purged_at or utcnow()
        receipt.headers = {k: v for k, v in receipt.headers.items() if k in KEPT_HEADERS}
        receipt.last_error = None

    writes = list(session.scalars(select(CrmWrite).where(CrmWrite.submission_id.in_(ids))))
    found.crm_writes = len(writes)
    for write in writes:
        write.fields_written = {}
        write.last_error = None
        if write.status in (WriteStatus.PENDING, WriteStatus.SENDING):
            found.crm_writes_cancelled += 1
            write.status, write.outcome, write.attempt_token = WriteStatus.FAILED, FORGOTTEN, None

    deals = list(
        session.scalars(
            select(DealAttribution).where(
                or_(DealAttribution.submission_id.in_(ids), DealAttribution.event_id.in_(event_ids))
            )
        )
    )
    found.deal_attributions = len(deals)
    for deal in deals:
        deal.fields_written = {}
        if deal.status in (DealAttributionStatus.PENDING, DealAttributionStatus.SENDING):
            found.deal_attributions_cancelled += 1
            deal.status, deal.last_error, deal.attempt_token = DealAttributionStatus.FAILED, FORGOTTEN, None
        else:
            deal.last_error = None

    conversions = list(
        session.scalars(
            select(Conversion).where(
                or_(Conversion.submission_id.in_(ids), Conversion.receipt_id.in_(receipt_ids))
            )
        )
    )
    found.conversions = len(conversions)
    for conversion in conversions:
        conversion.payload = _without_user(conversion.payload)
        conversion.response = None
        if conversion.status not in ConversionStatus.FINAL:
            found.conversions_cancelled += 1
            conversion.status, conversion.reason, conversion.attempt_token = (
                ConversionStatus.SKIPPED,
                FORGOTTEN,
                None,
            )

    request_ids = select(ConversionRequestEvent.request_id).where(
        ConversionRequestEvent.conversion_id.in_([c.id for c in conversions])
    )
    for request in session.scalars(select(ConversionRequest).where(ConversionRequest.id.in_(request_ids))):
        if request.body:
            found.conversion_requests += 1
            request.body = None  # a batch's body: it held this person's hashed identifiers

    journal = session.scalars(
        select(JournalEntry).where(
            or_(JournalEntry.receipt_id.in_(receipt_ids), JournalEntry.event_id.in_(event_ids))
        )
    )
    for entry in journal:
        if entry.details:
            found.journal_entries += 1
            entry.details = {}
    return found


def _kept(attribution: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attribution.items() if k in KEPT_ATTRIBUTION}


def _without_user(payload: dict[str, Any]) -> dict[str, Any]:
    """A conversion's recorded event without its user data (hashed identifiers, IP address, user agent),
    page address and click reference."""
    return {k: v for k, v in payload.items() if k not in ("user", "source_url", "oppref")}
