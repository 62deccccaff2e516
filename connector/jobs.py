"""The RQ jobs and the one place that enqueues them. Jobs take ids, never objects."""

from __future__ import annotations

import logging
import secrets
import traceback
from datetime import timedelta

from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import or_, select, update

from connector import context
from connector.context import Context
from connector.conversions.ledger import record_submission_conversion
from connector.crm_writes.ledger import queue_crm_write
from connector.errors import PermanentError, RetryableError
from connector.intake import booking_release, registry
from connector.intake.bookings import lock_booking
from connector.intake.errors import IntakeError
from connector.intake.ledger import request_from_receipt
from connector.journal import record
from connector.stages.changes import store_stage_changes
from connector.store.models import CrmWrite, Receipt, ReceiptStatus
from connector.store.models import Submission as SubmissionRow
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30
"""A claim outlives the job timeout by up to this much before the sweeper treats the job as abandoned."""


def lease_seconds(ctx: Context) -> int:
    """How long a claim or a started job may live: past this, its worker is gone."""
    timeout = ctx.settings.jobs.job_timeout_seconds
    return timeout + min(LEASE_MARGIN_SECONDS, timeout)


def schedule(ctx: Context, func, *args, delay: float | None = None, **options):  # type: ignore[no-untyped-def]
    """Enqueue `func(*args)` now, or in `delay` seconds through RQ's scheduler; raises RedisError."""
    if delay and delay > 0:
        return ctx.queue.enqueue_in(timedelta(seconds=delay), func, *args, **options)
    return ctx.queue.enqueue(func, *args, **options)


def receipt_job_id(receipt_id: int) -> str:
    """The job id intake uses, so the sweeper can tell whether a receipt is already queued."""
    return f"receipt-{receipt_id}"


def enqueue_receipt(
    ctx: Context,
    receipt_id: int,
    delay: float | None = None,
    job_id: str | None = None,
    attempts_done: int = 0,
) -> bool:
    """Queue `process_receipt` for a stored receipt; False (nothing lost) when Redis is unreachable.

    RQ's Retry carries the rest of the backoff schedule from `attempts_done` on, so the delays RQ waits
    are the ones the ledger's journal announces.
    """
    jobs = ctx.settings.jobs
    options = {
        "job_id": job_id or receipt_job_id(receipt_id),
        "job_timeout": jobs.job_timeout_seconds,
        "result_ttl": 3600,
        "failure_ttl": 30 * 86400,
        "description": f"process receipt {receipt_id}",
    }
    retries_left = jobs.max_attempts - attempts_done - 1
    if retries_left > 0:
        intervals = jobs.backoff_seconds[attempts_done:] or jobs.backoff_seconds[-1:]
        options["retry"] = Retry(max=retries_left, interval=intervals)
    try:
        if delay:
            schedule(ctx, process_receipt, receipt_id, delay=delay, **options)
        else:
            with ctx.redis.pipeline() as pipe:  # one round trip instead of two on the intake path
                ctx.queue.enqueue(process_receipt, receipt_id, pipeline=pipe, **options)
                pipe.execute()
    except RedisError as exc:
        log.warning("queue unavailable, receipt_id=%s left for the sweeper: %s", receipt_id, exc)
        return False
    return True


def enqueue_stage_resolution(ctx: Context, delay: float = 0.0) -> bool:
    """Queue the stage-change resolver unless a run is already scheduled (connector.stages.work)."""
    from connector.stages.work import enqueue_stage_resolution as enqueue

    return enqueue(ctx, delay)


def enqueue_crm_flush(ctx: Context, reason: str, delay: float | None = None) -> bool:
    """Queue the CRM write job unless one is already queued (connector.crm_writes.flush)."""
    from connector.crm_writes.flush import enqueue_crm_flush as enqueue

    return enqueue(ctx, reason, delay)


def new_batch_job_id() -> str:
    """Job id for one intake batch; stored on each of its receipts so the sweeper can check the job."""
    return f"intake-{secrets.token_hex(8)}"


def enqueue_receipts(ctx: Context, receipt_ids: list[int], job_id: str) -> bool:
    """Queue one job for a batch of receipts (the intake path); False when Redis is unreachable."""
    jobs = ctx.settings.jobs
    try:
        ctx.queue.enqueue(
            process_receipts,
            receipt_ids,
            job_id=job_id,
            job_timeout=jobs.job_timeout_seconds,
            result_ttl=3600,
            failure_ttl=30 * 86400,
            description=f"process {len(receipt_ids)} receipt(s) from {receipt_ids[0]}",
        )
    except RedisError as exc:
        log.warning("queue unavailable, receipt_ids=%s left for the sweeper: %s", receipt_ids, exc)
        return False
    return True


def process_receipts(receipt_ids: list[int]) -> dict[str, int]:
    """Intake's batch job: each receipt is claimed and processed on its own; one failure never holds up
    the others, and a receipt that raised is retried alone on the backoff schedule."""
    ctx = context.current()
    outcomes: dict[str, int] = {}
    for receipt_id in receipt_ids:
        try:
            outcome = process_receipt(receipt_id)
        except Exception:  # recorded on the receipt by process_receipt
            outcome = _retry_alone(ctx, receipt_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _retry_alone(ctx: Context, receipt_id: int) -> str:
    with ctx.sessions() as session:
        receipt = session.get(Receipt, receipt_id)
    if receipt is None or receipt.status != ReceiptStatus.RETRYING:
        return "failed"
    enqueue_receipt(
        ctx, receipt_id, delay=backoff_delay(ctx, receipt.attempts), attempts_done=receipt.attempts
    )
    return "retry scheduled"


def _ids(receipt: Receipt) -> dict[str, object]:
    """Structured-log fields: the JSON formatter adds these (and the RQ job id) to the line."""
    return {"event_id": receipt.event_id, "receipt_id": receipt.id}


def backoff_delay(ctx: Context, attempts: int) -> int:
    schedule = ctx.settings.jobs.backoff_seconds
    return schedule[min(max(attempts, 1), len(schedule)) - 1]


def claim_receipt(ctx: Context, receipt_id: int) -> Receipt | None:
    """Atomically take a receipt for processing; None when it is done, failed, or held by a live job."""
    now = utcnow()
    lease = timedelta(seconds=lease_seconds(ctx))
    with ctx.sessions.begin() as session:
        claimed = session.execute(
            update(Receipt)
            .where(
                Receipt.id == receipt_id,
                or_(
                    Receipt.status.in_(ReceiptStatus.PENDING),
                    (Receipt.status == ReceiptStatus.PROCESSING) & (Receipt.lease_until < now),
                ),
            )
            .values(status=ReceiptStatus.PROCESSING, attempts=Receipt.attempts + 1, lease_until=now + lease)
        ).rowcount
        if not claimed:
            return None
        receipt = session.get(Receipt, receipt_id)
        record(session, "processing", f"attempt {receipt.attempts} started", receipt=receipt)
        return receipt


def process_receipt(receipt_id: int) -> str:
    """Parse a stored receipt and carry its submission through the pipeline, exactly once."""
    ctx = context.current()
    receipt = claim_receipt(ctx, receipt_id)
    if receipt is None:
        log.info("receipt_id=%s already processed or in progress; skipped", receipt_id)
        return "skipped"
    attempt = receipt.attempts
    try:
        source = registry.by_name(receipt.source)
        submission = source.parse(request_from_receipt(receipt), ctx.settings.source(receipt.source))
        with ctx.sessions.begin() as session:
            fenced = session.execute(
                update(Receipt)
                .where(
                    Receipt.id == receipt_id,
                    Receipt.status == ReceiptStatus.PROCESSING,
                    Receipt.attempts == attempt,
                )
                .values(
                    status=ReceiptStatus.PROCESSED, processed_at=utcnow(), lease_until=None, last_error=None
                )
            ).rowcount
            if not fenced:
                session.rollback()
                log.warning(
                    "receipt_id=%s lease lost during attempt %s; result discarded", receipt_id, attempt
                )
                return "lease lost"
            stage_changes, held, released = [], None, []
            pixel_id, crm_write = None, None
            if source.kind == "crm":  # CRM notifiers carry stage changes, resolved by their own job
                stage_changes = store_stage_changes(session, submission.changes, receipt)
            else:
                kept = source.process(
                    session, receipt, submission
                )  # None: no new lead (beacon, cancellation)
                if kept is not None:
                    saved, submission = kept
                    if booking_release.should_hold(ctx.settings, submission):
                        booking_release.hold(session, receipt, saved, ctx.settings.collect.join_grace_seconds)
                        held = saved.id
                    else:
                        pixel_id, crm_write = _record_outcomes(
                            ctx, session, receipt, saved, submission, source
                        )
                released = booking_release.take_ready(session)
            record(session, "processed", f"processed on attempt {attempt}", receipt=receipt)
    except RetryableError as exc:
        return _schedule_retry(ctx, receipt, attempt, exc)
    except (PermanentError, IntakeError) as exc:
        _mark_failed(ctx, receipt, attempt, f"{type(exc).__name__}: {exc}")
        return "failed"
    except Exception as exc:
        final = attempt >= ctx.settings.jobs.max_attempts
        _record_error(ctx, receipt, attempt, exc, final)
        raise
    _enqueue_outcomes(ctx, pixel_id, crm_write)
    if held is not None:
        enqueue_booking_release(ctx, held, delay=ctx.settings.collect.join_grace_seconds)
    for lead_id in released:
        enqueue_booking_release(ctx, lead_id)
    if stage_changes:
        enqueue_stage_resolution(ctx)
    log.info(
        "receipt_id=%s processed event_id=%s attempt=%s",
        receipt_id,
        receipt.event_id,
        attempt,
        extra=_ids(receipt),
    )
    return "processed"


def _record_outcomes(ctx, session, receipt, saved, submission, source):  # type: ignore[no-untyped-def]
    """A new lead's conversion and CRM write, recorded in the caller's transaction."""
    pixel_id = record_submission_conversion(
        session, ctx.settings, receipt, saved, submission, route=f"{source.kind}/{source.name}"
    )
    return pixel_id, queue_crm_write(ctx.settings, session, receipt, saved)


def _enqueue_outcomes(ctx: Context, pixel_id: str | None, crm_write: CrmWrite | None) -> None:
    if crm_write is not None:
        enqueue_crm_flush(ctx, f"w{crm_write.id}")
    if pixel_id:
        enqueue_conversions_send(ctx, pixel_id)


def enqueue_booking_release(ctx: Context, submission_id: int, delay: float | None = None) -> bool:
    """Queue `release_booking`: at once when the beacon joined, after the grace period otherwise."""
    options = {"job_timeout": ctx.settings.jobs.job_timeout_seconds, "result_ttl": 3600}
    try:
        schedule(ctx, release_booking, submission_id, delay=delay, **options)
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
        pixel_id, crm_write = _record_outcomes(ctx, session, receipt, lead, submission, source)
    _enqueue_outcomes(ctx, pixel_id, crm_write)
    return "released"


def _schedule_retry(ctx: Context, receipt: Receipt, attempt: int, exc: RetryableError) -> str:
    """An adapter asked to try later: wait exactly the delay it named (else the backoff schedule)."""
    error = f"{type(exc).__name__}: {exc}"
    if attempt >= ctx.settings.jobs.max_attempts:
        _mark_failed(ctx, receipt, attempt, error)
        return "failed"
    delay = exc.delay if exc.delay is not None else backoff_delay(ctx, attempt)
    job_id = f"{receipt_job_id(receipt.id)}-{secrets.token_hex(4)}"
    _defer(ctx, receipt, attempt, error, delay, job_id)
    enqueue_receipt(ctx, receipt.id, delay=delay, job_id=job_id, attempts_done=attempt)
    log.info(
        "receipt_id=%s retry in %ss event_id=%s: %s",
        receipt.id,
        delay,
        receipt.event_id,
        exc,
        extra=_ids(receipt),
    )
    return "retry scheduled"


def _record_error(ctx: Context, receipt: Receipt, attempt: int, exc: Exception, final: bool) -> None:
    """Unexpected errors: RQ's Retry reschedules the job; the ledger says what happened and when."""
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    log.exception(
        "receipt_id=%s attempt %s raised event_id=%s",
        receipt.id,
        attempt,
        receipt.event_id,
        extra=_ids(receipt),
    )
    if final:
        _mark_failed(ctx, receipt, attempt, error)
    else:
        _defer(ctx, receipt, attempt, error, backoff_delay(ctx, attempt))


def _defer(
    ctx: Context, receipt: Receipt, attempt: int, error: str, delay: float, job_id: str | None = None
) -> None:
    """Release the claim as `retrying` with the next attempt's time (fenced on this attempt)."""
    values = {
        "status": ReceiptStatus.RETRYING,
        "lease_until": None,
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
        "last_error": error[:4000],
    }
    if job_id:
        values["job_id"] = job_id
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt).where(Receipt.id == receipt.id, Receipt.attempts == attempt).values(**values)
        )
        record(session, "retry", f"attempt {attempt} deferred {delay:g}s: {error[:500]}", receipt=receipt)


def _mark_failed(ctx: Context, receipt: Receipt, attempt: int, error: str) -> None:
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt)
            .where(Receipt.id == receipt.id, Receipt.attempts == attempt)
            .values(
                status=ReceiptStatus.FAILED, lease_until=None, next_attempt_at=None, last_error=error[:4000]
            )
        )
        record(session, "failed", f"gave up after attempt {attempt}: {error[:500]}", receipt=receipt)
    log.error(
        "receipt_id=%s failed event_id=%s: %s", receipt.id, receipt.event_id, error[:500], extra=_ids(receipt)
    )


def held_bookings(ctx: Context, limit: int = 500) -> list[int]:
    """Booking leads still held past their grace period (their release job was lost): for the sweeper."""
    cutoff = utcnow() - timedelta(
        seconds=ctx.settings.collect.join_grace_seconds + ctx.settings.jobs.sweep_grace_seconds
    )
    with ctx.sessions() as session:
        return list(
            session.scalars(
                select(SubmissionRow.id)
                .where(
                    SubmissionRow.kind == "booking",
                    SubmissionRow.created_at < cutoff,
                    SubmissionRow.meta[booking_release.AWAITING].as_boolean().is_(True),
                )
                .limit(limit)
            )
        )


def pending_receipts(ctx: Context, limit: int = 500) -> list[tuple[int, str | None, bool, int]]:
    """Receipts the sweeper should look at: (id, job id, abandoned?, attempts so far)."""
    now = utcnow()
    grace = now - timedelta(seconds=ctx.settings.jobs.sweep_grace_seconds)
    with ctx.sessions() as session:
        rows = session.execute(
            select(Receipt.id, Receipt.job_id, Receipt.status, Receipt.attempts)
            .where(
                or_(
                    (Receipt.status == ReceiptStatus.RECEIVED) & (Receipt.received_at < grace),
                    (Receipt.status == ReceiptStatus.RETRYING) & (Receipt.next_attempt_at < grace),
                    (Receipt.status == ReceiptStatus.PROCESSING) & (Receipt.lease_until < now),
                )
            )
            .order_by(Receipt.id)
            .limit(limit)
        ).all()
    return [(r.id, r.job_id, r.status == ReceiptStatus.PROCESSING, r.attempts) for r in rows]


# --- Conversions: one sender job per pixel at a time, coalescing events that arrive close together ---

CONVERSIONS_NEXT_KEY = "connector:conversions:next:{queue}:{pixel_id}"
"""Redis key holding the id of the sender job scheduled for a pixel; while it exists, arrivals join it."""


def conversions_next_key(ctx: Context, pixel_id: str) -> str:
    return CONVERSIONS_NEXT_KEY.format(queue=ctx.settings.jobs.queue, pixel_id=pixel_id)


def enqueue_conversions_send(
    ctx: Context, pixel_id: str, delay: float | None = None, force: bool = False
) -> bool:
    """Schedule `send_conversions(pixel_id)` in `delay` (default: the batch window) unless one is already
    scheduled; True when a job was queued. `force` replaces a scheduled job the sweeper found dead."""
    conf = ctx.settings.conversions
    delay = conf.batch_window_seconds if delay is None else max(delay, 0.0)
    job_id = f"conversions-{pixel_id}-{secrets.token_hex(4)}"
    ttl = int(delay + lease_seconds(ctx) + conf.lease_seconds) + 1
    try:
        if not ctx.redis.set(conversions_next_key(ctx, pixel_id), job_id, nx=not force, ex=ttl):
            return False
        options = {
            "job_id": job_id,
            "job_timeout": ctx.settings.jobs.job_timeout_seconds,
            "result_ttl": 3600,
            "failure_ttl": 7 * 86400,
            "description": f"send conversions for pixel {pixel_id}",
        }
        schedule(ctx, send_conversions, pixel_id, delay=delay, **options)
    except RedisError as exc:
        log.warning("queue unavailable, pixel=%s conversions left for the sweeper: %s", pixel_id, exc)
        return False
    log.debug("pixel=%s sender job_id=%s in %.1fs", pixel_id, job_id, delay)
    return True


def send_conversions(pixel_id: str) -> dict[str, int]:
    """Drain the pixel's ready conversions (batched, fenced), then schedule the next run if any waits."""
    from rq import get_current_job

    from connector.conversions.dispatch import drain

    ctx = context.current()
    job = get_current_job()
    key = conversions_next_key(ctx, pixel_id)
    # Let arrivals from now on schedule a new run: this one may already have claimed past them.
    if job is not None and ctx.redis.get(key) == job.id.encode():
        ctx.redis.delete(key)
    result = drain(ctx, pixel_id)
    if result.follow_up_s is not None:
        enqueue_conversions_send(ctx, pixel_id, delay=result.follow_up_s)
    log.info(
        "pixel=%s sender job_id=%s requests=%d outcomes=%s next_in=%s",
        pixel_id,
        job.id if job else None,
        result.requests,
        dict(result.counts),
        result.follow_up_s,
    )
    return {"requests": result.requests, **result.counts}
