"""The booking join, done in the job: a Calendly/Cal.com webhook meets its browser beacon in either order.

Both jobs lock the same `bookings` row (provider, booking key) and whoever comes second completes the join:
the beacon brings the event_id and the page's full attribution, the webhook brings the person. A reschedule
links the new booking to the lead of the old one (no second lead); a cancellation is recorded on the booking.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.attribution import Attribution
from connector.bookings import release as booking_release
from connector.bookings.facts import CANCELED
from connector.intake.classification import classify_missing, with_channels
from connector.intake.records import save_submission
from connector.intake.submission import Submission
from connector.journal import record
from connector.store.fit import fit_value
from connector.store.models import Booking, Receipt
from connector.store.models import Submission as SubmissionRow
from connector.store.upsert import insert_new
from connector.timeutil import utcnow

log = logging.getLogger(__name__)


def lock_booking(session: Session, provider: str, key: str) -> Booking:
    """The booking row, created if missing, locked until the transaction ends (PostgreSQL)."""
    now = utcnow()
    key = fit_value(Booking, "booking_key", key)
    session.execute(
        insert_new(
            session,
            Booking,
            ["provider", "booking_key"],
            provider=provider,
            booking_key=key,
            attribution={},
            status="pending",
            created_at=now,
            updated_at=now,
        )
    )
    return session.scalars(
        select(Booking)
        .where(Booking.provider == provider, Booking.booking_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def merge_attribution(webhook: dict[str, str], beacon: dict[str, Any]) -> dict[str, str]:
    """The page's capture wins (it is what the booking's UTMs were copied from); gaps are classified."""
    return classify_missing({**webhook, **beacon})


def apply_beacon(session: Session, receipt: Receipt, beacon: Submission) -> None:
    """Booking beacon job: remember the event_id; complete the join if the webhook came first."""
    booking_facts: dict[str, Any] = beacon.meta["booking"]
    row = lock_booking(session, booking_facts["provider"], booking_facts["key"])
    if row.event_id and row.event_id != beacon.event_id:
        record(
            session, "beacon", f"booking already linked to {row.event_id}; beacon ignored", receipt=receipt
        )
        return
    row.event_id = beacon.event_id
    row.attribution = beacon.attribution.to_dict()
    row.beacon_receipt_id = receipt.id
    if row.submission_id is None:
        record(session, "beacon", "booking beacon kept until its webhook arrives", receipt=receipt)
        return
    lead = session.get(SubmissionRow, row.submission_id)
    if lead is not None:
        _join_into(session, lead, row)
        booking_release.joined(session, lead)
    record(session, "beacon", f"booking joined with submission {row.submission_id}", receipt=receipt)


def save_booking(
    session: Session, receipt: Receipt, submission: Submission
) -> tuple[SubmissionRow, Submission] | None:
    """Booking webhook job: a new booking becomes a lead (joined with its beacon); others update state.

    Returns the new lead and the submission as saved, or None when no new lead was made."""
    facts: dict[str, Any] = submission.meta["booking"]
    provider = facts["provider"]
    row = lock_booking(session, provider, facts["key"])
    if facts["action"] == CANCELED:
        _cancel(session, receipt, row, submission, facts)
        return None
    old_key = facts.get("rescheduled_from")
    old = lock_booking(session, provider, old_key) if old_key and old_key != facts["key"] else None
    if old is not None and old.submission_id is not None:
        _reschedule(session, receipt, row, old, submission)
        return None
    if row.submission_id is not None:  # BOOKING_REQUESTED then BOOKING_CREATED: one lead
        record(
            session, "booking", f"booking already recorded as submission {row.submission_id}", receipt=receipt
        )
        return None
    if row.event_id:
        values = merge_attribution(
            submission.attribution.to_dict(), {**row.attribution, "event_id": row.event_id}
        )
        submission = replace(submission, attribution=Attribution(values))
        _set_receipt_event(session, receipt, row.event_id)
    submission = with_channels(submission)
    lead = save_submission(session, receipt, submission)
    row.submission_id = lead.id
    row.receipt_id = receipt.id
    row.status = "scheduled" if row.status == "pending" else row.status
    if row.status == "canceled":  # the cancellation was processed first
        lead.meta = {**lead.meta, "booking_status": "canceled", "cancel_reason": row.cancel_reason}
    log.info(
        "booking %s/%s recorded receipt_id=%s event_id=%s", provider, facts["key"], receipt.id, row.event_id
    )
    return lead, submission


def _join_into(session: Session, lead: SubmissionRow, row: Booking) -> None:
    lead.attribution = merge_attribution(
        dict(lead.attribution), {**row.attribution, "event_id": row.event_id}
    )
    if not lead.event_id:
        lead.event_id = row.event_id
    receipt = session.get(Receipt, lead.receipt_id)
    if receipt is not None:
        _set_receipt_event(session, receipt, row.event_id)


def _set_receipt_event(session: Session, receipt: Receipt, event_id: str | None) -> None:
    if event_id and not receipt.event_id:
        session.execute(update(Receipt).where(Receipt.id == receipt.id).values(event_id=event_id))
        receipt.event_id = event_id


def _reschedule(
    session: Session, receipt: Receipt, row: Booking, old: Booking, submission: Submission
) -> None:
    row.submission_id = old.submission_id
    row.receipt_id = receipt.id
    row.event_id = row.event_id or old.event_id
    row.status = "scheduled"
    old.status = "rescheduled"
    old.rescheduled_to = row.booking_key
    lead = session.get(SubmissionRow, old.submission_id)
    if lead is not None:
        lead.meta = {**lead.meta, "start_time": submission.meta.get("start_time"), "rescheduled": True}
    record(
        session,
        "booking",
        f"rescheduled from {old.booking_key}: same lead (submission {old.submission_id}), no new one",
        receipt=receipt,
        event_id=row.event_id,
    )


def _cancel(session: Session, receipt: Receipt, row: Booking, submission: Submission, facts: dict) -> None:
    row.status = "rescheduled" if facts.get("rescheduled") else "canceled"
    row.rescheduled_to = facts.get("rescheduled_to") or row.rescheduled_to
    row.canceled_at = submission.submitted_at or utcnow()
    row.cancel_reason = submission.meta.get("cancel_reason")
    if row.submission_id is not None and row.status == "canceled":
        lead = session.get(SubmissionRow, row.submission_id)
        if lead is not None:
            lead.meta = {**lead.meta, "booking_status": "canceled", "cancel_reason": row.cancel_reason}
    record(
        session,
        "booking",
        f"booking {row.status}" + (f": {row.cancel_reason}" if row.cancel_reason else ""),
        receipt=receipt,
        event_id=row.event_id,
    )
