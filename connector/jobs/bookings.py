"""Releasing a booking lead held for its beacon: once, with whatever event_id it has by then."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import Select, select

from connector import context
from connector.bookings import release as booking_release
from connector.bookings.join import lock_booking
from connector.context import Context
from connector.intake import registry
from connector.jobs.follow_ups import enqueue_outcomes
from connector.pipeline import record_outcomes
from connector.queue.enqueue import new_job_id, schedule
from connector.queue.sweeper import sweeps
from connector.store.models import Submission as SubmissionRow
from connector.timeutil import utcnow

log = logging.getLogger(__name__)


def enqueue_booking_release(ctx: Context, submission_id: int, delay: float | None = None) -> bool:
    """Queue `release_booking`: at once when the beacon joined, after the grace period otherwise."""
    try:
        schedule(
            ctx,
            release_booking,
            submission_id,
            job_id=new_job_id(f"booking-{submission_id}"),
            description=f"release booking lead {submission_id}",
            delay=delay,
        )
    except RedisError as exc:
        log.warning("queue unavailable, booking lead %s left for the sweeper: %s", submission_id, exc)
        return False
    return True


def release_booking(submission_id: int) -> str:
    """Record a held booking lead's conversion and CRM write, once, with whatever event_id it has now."""
    ctx = context.current()
    with ctx.sessions.begin() as session:
        lead = session.get(SubmissionRow, submission_id)
        if lead is None:
            return "gone"
        facts = lead.meta.get("booking") or {}
        lock_booking(session, facts.get("provider", ""), facts.get("key", ""))  # one release at a time
        session.refresh(lead)
        claimed = booking_release.claim_held(session, lead)
        if claimed is None:
            return "released already"
        receipt, submission = claimed
        source = registry.by_name(lead.source)
        follow = record_outcomes(ctx, session, receipt, lead, submission, source)
    enqueue_outcomes(ctx, follow)
    return "released"


def held_statement(cutoff: datetime, limit: int = 500) -> Select[int]:
    """Booking leads held since before `cutoff`, oldest first: a range of the held leads' own index."""
    held = SubmissionRow.held_since
    return select(SubmissionRow.id).where(held.isnot(None), held < cutoff).order_by(held).limit(limit)


def held_bookings(ctx: Context, limit: int = 500) -> list[int]:
    """Booking leads still held past their grace period (their release job was lost): for the sweeper."""
    cutoff = utcnow() - timedelta(
        seconds=ctx.settings.collect.join_grace_seconds + ctx.settings.jobs.sweep_grace_seconds
    )
    with ctx.sessions() as session:
        return list(session.scalars(held_statement(cutoff, limit)))


@sweeps("held bookings")
def sweep_held_bookings(ctx: Context) -> int:
    return sum(enqueue_booking_release(ctx, lead_id) for lead_id in held_bookings(ctx))
