"""Hold a booking's conversion and CRM write until its beacon brings the pixel's event_id (or a grace ends).

A booking webhook often reaches us before the browser's beacon. Sent at once, its conversion would carry
an id derived from the booking and OpenAI would count the pixel's `appointment_scheduled` a second time;
its CRM record would miss the page's attribution. So the lead waits (`held_since` set) until the beacon joins it
(released at once) or `collect.join_grace_seconds` pass (released under the derived id).
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from connector.attribution import Attribution, Contact
from connector.config import Settings
from connector.intake.submission import Submission
from connector.journal import record
from connector.store.models import Receipt
from connector.store.models import Submission as SubmissionRow
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

JOURNAL_KEY = "booking_release"
"""Journal details key marking a hold ("held") or a release ("released"), so `events show` can tell when."""

RELEASE_KEY = "connector_release_bookings"
"""Session.info key listing leads a transaction made ready; the job enqueues their release after commit."""


def should_hold(settings: Settings, submission: Submission) -> bool:
    return (
        submission.kind == "booking" and not submission.event_id and settings.collect.join_grace_seconds > 0
    )


def hold(session: Session, receipt: Receipt, lead: SubmissionRow, grace: int) -> None:
    lead.held_since = utcnow()
    record(
        session,
        "booking",
        f"conversion and CRM write held up to {grace}s for the booking's beacon (the pixel's event_id)",
        receipt=receipt,
        details={JOURNAL_KEY: "held", "grace_seconds": grace},
    )


def joined(session: Session, lead: SubmissionRow) -> None:
    """The beacon joined a held lead: release it as soon as this transaction commits."""
    if lead.held_since is not None:
        session.info.setdefault(RELEASE_KEY, []).append(lead.id)


def take_ready(session: Session) -> list[int]:
    return list(session.info.pop(RELEASE_KEY, []))


def claim_held(session: Session, lead: SubmissionRow) -> tuple[Receipt, Submission] | None:
    """Clear the hold (under the booking's row lock) and rebuild what the conversion builder needs."""
    if lead.held_since is None:
        return None  # released already: by the beacon, or by the grace timer
    lead.held_since = None
    receipt = session.get(Receipt, lead.receipt_id)
    if receipt is None:  # the lead's receipt is a foreign key: it exists
        raise LookupError(f"receipt {lead.receipt_id} of booking lead {lead.id} is missing")
    submission = Submission(
        source=lead.source,
        delivery_key=receipt.delivery_key,
        contact=Contact(**lead.contact),
        attribution=Attribution(dict(lead.attribution)),
        kind=lead.kind,
        form_id=lead.form_id,
        submitted_at=lead.submitted_at,
        meta=dict(lead.meta),
    )
    how = f"with the beacon's event_id {lead.event_id}" if lead.event_id else "without a beacon: derived id"
    record(
        session,
        "booking",
        f"conversion and CRM write released {how}",
        receipt=receipt,
        details={JOURNAL_KEY: "released", "event_id": lead.event_id},
    )
    log.info(
        "booking lead %s released event_id=%s", lead.id, lead.event_id, extra={"event_id": lead.event_id}
    )
    return receipt, submission
