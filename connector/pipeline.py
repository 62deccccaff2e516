"""A receipt's way through, inside the job's transaction: parse the stored bytes with the source that
took them, let the source keep what they deliver, then record the new lead's outcomes (its conversion
and its CRM write) or hold a booking for its beacon. What must run next is returned, to be queued once
the transaction has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from connector.bookings import release as booking_release
from connector.context import Context
from connector.conversions.ledger import record_submission_conversion
from connector.crm_writes.ledger import queue_crm_write
from connector.intake import registry
from connector.intake.base import Delivery, Source
from connector.intake.ledger import request_from_receipt
from connector.intake.submission import Submission
from connector.store.models import Receipt
from connector.store.models import Submission as SubmissionRow


@dataclass
class FollowUps:
    """The jobs a committed transaction calls for."""

    pixel_ids: set[str] = field(default_factory=set)
    """Pixels whose conversions sender should run."""
    crm_write: int | None = None
    """A CRM write was queued (its id names the flush)."""
    held: int | None = None
    """A booking lead held for its beacon: release it after the grace period."""
    released: list[int] = field(default_factory=list)
    """Held booking leads this transaction completed: release them now."""
    stage_changes: bool = False
    """New stage changes were stored: run the resolver."""

    def add(self, other: FollowUps) -> None:
        self.pixel_ids |= other.pixel_ids
        self.crm_write = other.crm_write or self.crm_write


def parse(ctx: Context, receipt: Receipt) -> tuple[Source[Any], Delivery]:
    """The receipt's source and what its stored bytes deliver; raises what the source raises."""
    source = registry.by_name(receipt.source)
    return source, source.parse(request_from_receipt(receipt), ctx.settings.source(receipt.source))


def run(ctx: Context, session: Session, receipt: Receipt, source: Source[Any], parsed: Delivery) -> FollowUps:
    """Keep what the receipt delivers and record its outcomes, in the caller's transaction."""
    processed = source.process(session, receipt, parsed)
    follow = FollowUps(stage_changes=processed.stage_changes > 0)
    lead, submission = processed.lead, processed.submission
    if lead is not None and submission is not None:
        if booking_release.should_hold(ctx.settings, submission):
            booking_release.hold(session, receipt, lead, ctx.settings.collect.join_grace_seconds)
            follow.held = lead.id
        else:
            follow.add(record_outcomes(ctx, session, receipt, lead, submission, source))
    follow.released = booking_release.take_ready(session)
    return follow


def record_outcomes(
    ctx: Context,
    session: Session,
    receipt: Receipt,
    lead: SubmissionRow,
    submission: Submission,
    source: Source[Any],
) -> FollowUps:
    """A new lead's conversion and CRM write, recorded in the caller's transaction."""
    pixel_id = record_submission_conversion(
        session, ctx.settings, receipt, lead, submission, route=f"{source.kind}/{source.name}"
    )
    crm_write = queue_crm_write(ctx, session, receipt, lead)
    return FollowUps(
        pixel_ids={pixel_id} if pixel_id else set(), crm_write=crm_write.id if crm_write else None
    )
