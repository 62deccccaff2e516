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
from connector.intake import registry
from connector.intake.errors import IntakeError
from connector.intake.ledger import request_from_receipt
from connector.journal import record
from connector.pipeline import save_submission
from connector.stages.changes import store_stage_changes
from connector.store.models import Receipt, ReceiptStatus
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 30
"""A claim outlives the job timeout by up to this much before the sweeper treats the job as abandoned."""


def lease_seconds(ctx: Context) -> int:
    """How long a claim or a started job may live: past this, its worker is gone."""
    timeout = ctx.settings.jobs.job_timeout_seconds
    return timeout + min(LEASE_MARGIN_SECONDS, timeout)


def receipt_job_id(receipt_id: int) -> str:
    """The job id intake uses, so the sweeper can tell whether a receipt is already queued."""
    return f"receipt-{receipt_id}"


def enqueue_receipt(
    ctx: Context, receipt_id: int, delay: float | None = None, job_id: str | None = None
) -> bool:
    """Queue `process_receipt` for a stored receipt; False (nothing lost) when Redis is unreachable."""
    jobs = ctx.settings.jobs
    options = {
        "job_id": job_id or receipt_job_id(receipt_id),
        "job_timeout": jobs.job_timeout_seconds,
        "result_ttl": 3600,
        "failure_ttl": 30 * 86400,
        "description": f"process receipt {receipt_id}",
    }
    if jobs.max_attempts > 1:
        options["retry"] = Retry(max=jobs.max_attempts - 1, interval=jobs.backoff_seconds)
    try:
        if delay:
            ctx.queue.enqueue_in(timedelta(seconds=delay), process_receipt, receipt_id, **options)
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
    enqueue_receipt(ctx, receipt_id, delay=backoff_delay(ctx, receipt.attempts))
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
        submission = source.parse(request_from_receipt(receipt))
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
            if source.kind == "crm":  # CRM notifiers carry stage changes, resolved by their own job
                stage_changes = store_stage_changes(session, submission.changes, receipt)
                pixel_id, crm_write = None, None
            else:
                stage_changes = []
                saved = save_submission(session, receipt, submission)
                pixel_id = record_submission_conversion(
                    session, ctx.settings, receipt, saved, submission, route=f"{source.kind}/{source.name}"
                )
                crm_write = queue_crm_write(ctx.settings, session, receipt, saved)
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
    if crm_write is not None:
        enqueue_crm_flush(ctx, f"w{crm_write.id}")
    if pixel_id:
        enqueue_conversions_send(ctx, pixel_id)
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


def _schedule_retry(ctx: Context, receipt: Receipt, attempt: int, exc: RetryableError) -> str:
    if attempt >= ctx.settings.jobs.max_attempts:
        _mark_failed(ctx, receipt, attempt, f"{type(exc).__name__}: {exc}")
        return "failed"
    delay = exc.delay if exc.delay is not None else backoff_delay(ctx, attempt)
    job_id = f"{receipt_job_id(receipt.id)}-{secrets.token_hex(4)}"
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt)
            .where(Receipt.id == receipt.id, Receipt.attempts == attempt)
            .values(
                status=ReceiptStatus.RETRYING,
                lease_until=None,
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                last_error=f"{type(exc).__name__}: {exc}",
                job_id=job_id,
            )
        )
        record(session, "retry", f"attempt {attempt} deferred {delay:g}s: {exc}", receipt=receipt)
    enqueue_receipt(ctx, receipt.id, delay=delay, job_id=job_id)
    log.info(
        "receipt_id=%s retry in %ss event_id=%s: %s",
        receipt.id,
        delay,
        receipt.event_id,
        exc,
        extra=_ids(receipt),
    )
    return "retry scheduled"


def _mark_failed(ctx: Context, receipt: Receipt, attempt: int, error: str) -> None:
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt)
            .where(Receipt.id == receipt.id, Receipt.attempts == attempt)
            .values(status=ReceiptStatus.FAILED, lease_until=None, last_error=error[:4000])
        )
        record(session, "failed", f"gave up after attempt {attempt}: {error[:500]}", receipt=receipt)
    log.error(
        "receipt_id=%s failed event_id=%s: %s", receipt.id, receipt.event_id, error[:500], extra=_ids(receipt)
    )


def _record_error(ctx: Context, receipt: Receipt, attempt: int, exc: Exception, final: bool) -> None:
    """Unexpected errors: RQ's Retry reschedules the job; the ledger says what happened and when."""
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    delay = backoff_delay(ctx, attempt)
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt)
            .where(Receipt.id == receipt.id, Receipt.attempts == attempt)
            .values(
                status=ReceiptStatus.FAILED if final else ReceiptStatus.RETRYING,
                lease_until=None,
                next_attempt_at=None if final else utcnow() + timedelta(seconds=delay),
                last_error=error[:4000],
            )
        )
        outcome = (
            f"gave up after attempt {attempt}" if final else f"attempt {attempt} failed, retry in {delay}s"
        )
        record(session, "failed" if final else "retry", f"{outcome}: {error[:500]}", receipt=receipt)
    log.exception(
        "receipt_id=%s attempt %s raised event_id=%s",
        receipt.id,
        attempt,
        receipt.event_id,
        extra=_ids(receipt),
    )


def pending_receipts(ctx: Context, limit: int = 500) -> list[tuple[int, str | None, bool]]:
    """Receipts the sweeper should look at: (id, job id, abandoned?)."""
    now = utcnow()
    grace = now - timedelta(seconds=ctx.settings.jobs.sweep_grace_seconds)
    with ctx.sessions() as session:
        rows = session.execute(
            select(Receipt.id, Receipt.job_id, Receipt.status)
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
    return [(r.id, r.job_id, r.status == ReceiptStatus.PROCESSING) for r in rows]


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
        if delay > 0:
            ctx.queue.enqueue_in(timedelta(seconds=delay), send_conversions, pixel_id, **options)
        else:
            ctx.queue.enqueue(send_conversions, pixel_id, **options)
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
