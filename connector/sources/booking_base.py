"""What the booking sources share: a booking webhook creates, reschedules or cancels one booking."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.orm import Session

from connector.bookings.join import save_booking
from connector.intake.base import Processed, SubmissionSource
from connector.intake.submission import Submission
from connector.store.models import Receipt


class BookingSource(SubmissionSource):
    """A booking tool: its webhooks create, reschedule or cancel one booking, joined with its beacon."""

    kind: ClassVar[str] = "booking"

    def process(self, session: Session, receipt: Receipt, parsed: Submission) -> Processed:
        kept = save_booking(session, receipt, parsed)
        if kept is None:  # a cancellation, a reschedule of a known lead, a repeat
            return Processed()
        lead, submission = kept
        return Processed(lead=lead, submission=submission)
