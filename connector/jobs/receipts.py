"""Receipt jobs: intake's batch job, a receipt's own retries, and the sweep of stranded receipts.

A job claims its receipt (a lease under a fresh token), runs the pipeline, and marks the receipt
processed in the same transaction as the pipeline's writes, fenced on that token: the outcome is
recorded exactly once whatever the copies, retries and replays. What the pipeline calls for is queued
after the commit.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from typing import Any

from redis.exceptions import RedisError
from rq import Retry, get_current_job
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import connector.sources  # noqa: F401  (registers every source the stored receipts may name)
from connector import context
from connector.context import Context
from connector.errors import PermanentError, RetryableError
from connector.intake.base import Delivery, Source
from connector.intake.errors import IntakeError
from connector.intake.prepared import prepare_run
from connector.intake.records import note_receipts_without_submission
from connector.jobs.bookings import enqueue_booking_release
from connector.jobs.follow_ups import enqueue_outcomes
from connector.jobs.stages import enqueue_stage_resolution
from connector.journal import buffer_lines, record, write_buffered
from connector.pipeline import FollowUps, parse, run
from connector.queue.defaults import RECEIPT_FAILURE_TTL_SECONDS, backoff_delay, job_lease_seconds
from connector.queue.enqueue import job_is_live, new_job_id, schedule
from connector.queue.ledgers import RECEIPTS
from connector.queue.sweeper import sweeps
from connector.queue.take import finish_taken, give_back, take_queued
from connector.store.models import Receipt, ReceiptStatus
from connector.timeutil import utcnow

log = logging.getLogger(__name__)


def receipt_job_id(receipt_id: int) -> str:
    """The job id of a receipt's own job, so the sweeper can tell whether a receipt is already queued."""
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
    retry = None
    retries_left = jobs.max_attempts - attempts_done - 1
    if retries_left > 0:
        intervals = jobs.backoff_seconds[attempts_done:] or jobs.backoff_seconds[-1:]
        retry = Retry(max=retries_left, interval=intervals)
    options: dict[str, Any] = {
        "job_id": job_id or receipt_job_id(receipt_id),
        "description": f"process receipt {receipt_id}",
        "retry": retry,
        "failure_ttl": RECEIPT_FAILURE_TTL_SECONDS,
    }
    try:
        if delay:
            schedule(ctx, process_receipt, receipt_id, delay=delay, **options)
        else:
            with ctx.redis.pipeline() as pipe:  # one round trip instead of two on the intake path
                schedule(ctx, process_receipt, receipt_id, pipeline=pipe, **options)
                pipe.execute()
    except RedisError as exc:
        log.warning("queue unavailable, receipt_id=%s left for the sweeper: %s", receipt_id, exc)
        return False
    return True


TRANSACTION_RECEIPTS = 32
"""Most receipts one transaction of the batch job keeps: one commit serves them all, and on SQLite the
write lock is held for a bounded time."""

TAKEN_JOBS_MOST = 31
"""Most queued batch jobs one batch job takes in with its own receipts."""

BATCH_JOB_PREFIX = "intake-"
"""How the intake's batch job ids begin (connector.intake.ledger.new_batch_job_id)."""


class LeaseLost(Exception):
    """The receipt's lease went to another attempt: this attempt's result is discarded."""


def process_receipts(receipt_ids: list[int]) -> dict[str, int]:
    """Intake's batch job: the receipts are claimed together and kept in one transaction. When one of
    them raises (or a lease was lost) that transaction is rolled back and each receipt runs again in a
    transaction of its own, so an error is handled as a single receipt's (retried alone on the backoff
    schedule, or failed) and never holds up the others.

    Run by a worker while more batch jobs wait at the head of the queue, the job takes some of them in
    (connector.queue.take) until it holds about a transaction's worth of receipts: theirs are claimed and
    kept with its own, and each taken job finishes with its own receipts' outcomes."""
    ctx = context.current()
    job = get_current_job()
    taken = _take_batch_jobs(ctx, job, len(receipt_ids)) if job is not None else []
    groups = [list(receipt_ids), *(list(t.args[0]) for t in taken)]
    try:
        outcome_of = _process_all(ctx, list(dict.fromkeys(i for ids in groups for i in ids)))
    except BaseException:
        with contextlib.suppress(RedisError):  # else they expire after the lease; the sweeper has them
            give_back(ctx, taken)
        raise
    if taken:
        assert job is not None
        done = [(t, _counted(outcome_of, ids)) for t, ids in zip(taken, groups[1:], strict=True)]
        try:
            finish_taken(ctx, done, job.worker_name or "")
        except RedisError as exc:  # their work is kept; the jobs expire after the lease
            log.warning("taken batch jobs not marked finished: %s", exc)
    return _counted(outcome_of, groups[0])


def _take_batch_jobs(ctx: Context, job: Job, own: int) -> list[Job]:
    """Batch jobs waiting at the head of the queue, about as many as fill a transaction if they are the
    size of this one; none when Redis does not answer."""
    if not job.id.startswith(BATCH_JOB_PREFIX):
        return []
    count = min(TAKEN_JOBS_MOST, TRANSACTION_RECEIPTS // max(own, 1) - 1)
    try:
        taken = take_queued(ctx, BATCH_JOB_PREFIX, count, job.worker_name or "")
    except RedisError as exc:
        log.warning("queued batch jobs not taken: %s", exc)
        return []
    ours = [t for t in taken if t.func_name == job.func_name and len(t.args) == 1]
    if len(ours) < len(taken):
        with contextlib.suppress(RedisError):
            give_back(ctx, [t for t in taken if t not in ours])
    return ours


def _counted(outcome_of: dict[int, str], receipt_ids: list[int]) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for receipt_id in receipt_ids:
        outcome = outcome_of[receipt_id]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _process_all(ctx: Context, receipt_ids: list[int]) -> dict[int, str]:
    """Each receipt's outcome, in transactions of at most TRANSACTION_RECEIPTS of about one size."""
    parts = -(-len(receipt_ids) // TRANSACTION_RECEIPTS)
    size = -(-len(receipt_ids) // max(parts, 1))
    outcome_of: dict[int, str] = {}
    for start in range(0, len(receipt_ids), size or 1):
        outcome_of.update(_process_batch(ctx, receipt_ids[start : start + size]))
    return outcome_of


def _process_batch(ctx: Context, receipt_ids: list[int]) -> list[tuple[int, str]]:
    claims = claim_receipts(ctx, receipt_ids)
    claimed_ids = {claimed.receipt.id for claimed in claims}
    outcomes = [(i, "skipped") for i in receipt_ids if i not in claimed_ids]
    if outcomes:
        log.info(
            "%d of %d receipt(s) already processed or in progress; skipped", len(outcomes), len(receipt_ids)
        )
    if not claims:
        return outcomes
    kept: list[tuple[Claimed, FollowUps]] = []
    alone: list[Claimed] = []
    try:
        deliveries = [parse(ctx, claimed.receipt) for claimed in claims]  # before SQLite's write lock
        with ctx.sessions.begin() as session:
            _fence(session, claims)
            note_receipts_without_submission(session, [claimed.receipt.id for claimed in claims])
            buffer_lines(session)
            kept = _keep_all(ctx, session, claims, deliveries)
            write_buffered(session)
    except Exception as exc:  # one receipt raised, a lease was lost, or the commit failed
        log.info("batch of %d receipt(s) not kept together, each is run alone: %s", len(claims), exc)
        kept, alone = [], claims
    follow = FollowUps()
    for claimed, one in kept:
        follow.add(one)
        follow.released += one.released
        follow.stage_changes |= one.stage_changes
        if one.held is not None:
            enqueue_booking_release(ctx, one.held, delay=ctx.settings.collect.join_grace_seconds)
        _log_processed(claimed)
        outcomes.append((claimed.receipt.id, "processed"))
    _enqueue_follow_ups(ctx, follow)
    for claimed in alone:
        try:
            outcome = _process_claimed(ctx, claimed)
        except Exception:  # recorded on the receipt by _process_claimed
            outcome = _retry_alone(ctx, claimed.receipt.id)
        outcomes.append((claimed.receipt.id, outcome))
    return outcomes


def _retry_alone(ctx: Context, receipt_id: int) -> str:
    with ctx.sessions() as session:
        receipt = session.get(Receipt, receipt_id)
    if receipt is None or receipt.status != ReceiptStatus.RETRYING:
        return "failed"
    delay = backoff_delay(ctx.settings, receipt.attempts)
    job_id = new_job_id(receipt_job_id(receipt_id))
    _set_job_id(ctx, receipt_id, job_id)
    enqueue_receipt(ctx, receipt_id, delay=delay, job_id=job_id, attempts_done=receipt.attempts)
    return "retry scheduled"


def _ids(receipt: Receipt) -> dict[str, object]:
    """Structured-log fields: the JSON formatter adds these (and the RQ job id) to the line."""
    return {"event_id": receipt.event_id, "receipt_id": receipt.id}


class Claimed:
    """A receipt this job holds: its row (detached) and the token that fences its result."""

    def __init__(self, receipt: Receipt, token: str):
        self.receipt = receipt
        self.token = token
        self.attempt = receipt.attempts


def claim_receipts(ctx: Context, receipt_ids: list[int]) -> list[Claimed]:
    """Lease receipts for processing, in one transaction; those done, failed or held by a live job are
    left out.

    Claimed whatever their next_attempt_at: RQ's scheduler decides when a retry runs (in whole seconds,
    so sometimes a little early), and the job it runs must not skip its receipt for that."""
    with ctx.sessions.begin() as session:
        token, receipts = RECEIPTS.claim_rows(
            session, job_lease_seconds(ctx.settings), receipt_ids, due=False
        )
        claims = [Claimed(receipt, token) for receipt in receipts]
        buffer_lines(session)
        for claim in claims:
            record(session, "processing", f"attempt {claim.attempt} started", receipt=claim.receipt)
        write_buffered(session)
        return claims


def claim_receipt(ctx: Context, receipt_id: int) -> Claimed | None:
    """Lease one receipt for processing; None when it is done, failed, or held by a live job."""
    claims = claim_receipts(ctx, [receipt_id])
    return claims[0] if claims else None


def process_receipt(receipt_id: int) -> str:
    """Parse a stored receipt and carry what it delivers through the pipeline, exactly once."""
    ctx = context.current()
    claimed = claim_receipt(ctx, receipt_id)
    if claimed is None:
        log.info("receipt_id=%s already processed or in progress; skipped", receipt_id)
        return "skipped"
    return _process_claimed(ctx, claimed)


def _fence(session: Session, claims: list[Claimed]) -> None:
    """Mark the claimed receipts processed, fenced on their claim's token, in the caller's transaction
    (which keeps what they deliver); raises LeaseLost when any of them went to another attempt."""
    token = claims[0].token
    ids = [claimed.receipt.id for claimed in claims]
    values = {"status": ReceiptStatus.PROCESSED, "processed_at": utcnow(), "last_error": None}
    if RECEIPTS.finish(session, token, ids, **values) != len(ids):
        raise LeaseLost(ids)


def _keep(
    ctx: Context, session: Session, claimed: Claimed, delivery: tuple[Source[Any], Delivery]
) -> FollowUps:
    """Run the pipeline for a parsed claimed receipt in the caller's transaction; raises what the
    source raises."""
    receipt = claimed.receipt
    follow = run(ctx, session, receipt, *delivery)
    record(session, "processed", f"processed on attempt {claimed.attempt}", receipt=receipt)
    return follow


def _keep_all(
    ctx: Context, session: Session, claims: list[Claimed], deliveries: list[tuple[Source[Any], Delivery]]
) -> list[tuple[Claimed, FollowUps]]:
    """`_keep` each receipt in turn; each run of form receipts has its event claims and submission rows
    written together first (connector.intake.prepared)."""
    kept = []
    prepared_until = 0
    for n, (claimed, delivery) in enumerate(zip(claims, deliveries, strict=True)):
        if n >= prepared_until:
            run = [(c.receipt, d) for c, d in zip(claims[n:], deliveries[n:], strict=True)]
            prepared_until = n + prepare_run(session, run)
        kept.append((claimed, _keep(ctx, session, claimed, delivery)))
    return kept


def _process_claimed(ctx: Context, claimed: Claimed) -> str:
    """One claimed receipt in a transaction of its own, with its errors recorded on it."""
    try:
        delivery = parse(ctx, claimed.receipt)  # before the transaction: SQLite's write lock waits less
        with ctx.sessions.begin() as session:
            _fence(session, [claimed])
            follow = _keep(ctx, session, claimed, delivery)
    except LeaseLost:
        _log_lease_lost(claimed)
        return "lease lost"
    except RetryableError as exc:
        return _schedule_retry(ctx, claimed, exc)
    except (PermanentError, IntakeError) as exc:
        _mark_failed(ctx, claimed, f"{type(exc).__name__}: {exc}")
        return "failed"
    except Exception as exc:
        _record_error(ctx, claimed, exc, final=claimed.attempt >= ctx.settings.jobs.max_attempts)
        raise
    _enqueue_follow_ups(ctx, follow)
    _log_processed(claimed)
    return "processed"


def _log_processed(claimed: Claimed) -> None:
    receipt = claimed.receipt
    log.info(
        "receipt_id=%s processed event_id=%s attempt=%s",
        receipt.id,
        receipt.event_id,
        claimed.attempt,
        extra=_ids(receipt),
    )


def _log_lease_lost(claimed: Claimed) -> None:
    log.warning(
        "receipt_id=%s lease lost during attempt %s; result discarded", claimed.receipt.id, claimed.attempt
    )


def _enqueue_follow_ups(ctx: Context, follow: FollowUps) -> None:
    enqueue_outcomes(ctx, follow)
    if follow.held is not None:
        enqueue_booking_release(ctx, follow.held, delay=ctx.settings.collect.join_grace_seconds)
    for lead_id in follow.released:
        enqueue_booking_release(ctx, lead_id)
    if follow.stage_changes:
        enqueue_stage_resolution(ctx)


def _schedule_retry(ctx: Context, claimed: Claimed, exc: RetryableError) -> str:
    """An adapter asked to try later: wait exactly the delay it named (else the backoff schedule)."""
    receipt, attempt = claimed.receipt, claimed.attempt
    error = f"{type(exc).__name__}: {exc}"
    if attempt >= ctx.settings.jobs.max_attempts:
        _mark_failed(ctx, claimed, error)
        return "failed"
    delay = exc.delay if exc.delay is not None else backoff_delay(ctx.settings, attempt)
    job_id = new_job_id(receipt_job_id(receipt.id))
    _defer(ctx, claimed, error, delay, job_id)
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


def _record_error(ctx: Context, claimed: Claimed, exc: Exception, final: bool) -> None:
    """Unexpected errors: RQ's Retry reschedules the job; the ledger says what happened and when."""
    receipt = claimed.receipt
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    log.exception(
        "receipt_id=%s attempt %s raised event_id=%s",
        receipt.id,
        claimed.attempt,
        receipt.event_id,
        extra=_ids(receipt),
    )
    if final:
        _mark_failed(ctx, claimed, error)
    else:
        _defer(ctx, claimed, error, backoff_delay(ctx.settings, claimed.attempt))


def _defer(ctx: Context, claimed: Claimed, error: str, delay: float, job_id: str | None = None) -> None:
    """Release the claim as `retrying`, due after `delay` (fenced on this attempt's token)."""
    values: dict[str, Any] = {"last_error": error[:4000]}
    if job_id:
        values["job_id"] = job_id
    with ctx.sessions.begin() as session:
        RECEIPTS.release(session, claimed.token, [claimed.receipt.id], delay, **values)
        record(
            session,
            "retry",
            f"attempt {claimed.attempt} deferred {delay:g}s: {error[:500]}",
            receipt=claimed.receipt,
        )


def _mark_failed(ctx: Context, claimed: Claimed, error: str) -> None:
    receipt = claimed.receipt
    with ctx.sessions.begin() as session:
        RECEIPTS.finish(
            session,
            claimed.token,
            [receipt.id],
            status=ReceiptStatus.FAILED,
            next_attempt_at=None,
            last_error=error[:4000],
        )
        record(session, "failed", f"gave up after attempt {claimed.attempt}: {error[:500]}", receipt=receipt)
    log.error(
        "receipt_id=%s failed event_id=%s: %s", receipt.id, receipt.event_id, error[:500], extra=_ids(receipt)
    )


def _set_job_id(ctx: Context, receipt_id: int, job_id: str) -> None:
    with ctx.sessions.begin() as session:
        session.execute(update(Receipt).where(Receipt.id == receipt_id).values(job_id=job_id))


def stranded_receipts(ctx: Context, limit: int = 500) -> list[tuple[int, str | None, bool, int]]:
    """Receipts the sweeper should look at: (id, job id, abandoned?, attempts so far)."""
    with ctx.sessions() as session:
        rows = session.execute(
            select(Receipt.id, Receipt.job_id, Receipt.status, Receipt.attempts)
            .where(RECEIPTS.overdue(utcnow(), ctx.settings.jobs.sweep_grace_seconds))
            .order_by(Receipt.id)
            .limit(limit)
        ).all()
    return [(r.id, r.job_id, r.status == ReceiptStatus.PROCESSING, r.attempts) for r in rows]


@sweeps("receipts")
def sweep_receipts(ctx: Context) -> int:
    """Enqueue every receipt that never reached the queue (Redis was down) or whose job was lost."""
    enqueued = 0
    for receipt_id, job_id, abandoned, attempts in stranded_receipts(ctx):
        if not abandoned and job_is_live(ctx, job_id or receipt_job_id(receipt_id)):
            continue
        new_id = new_job_id(receipt_job_id(receipt_id))
        if enqueue_receipt(ctx, receipt_id, job_id=new_id, attempts_done=attempts):
            _set_job_id(ctx, receipt_id, new_id)
            enqueued += 1
            log.info("sweeper enqueued receipt_id=%s job_id=%s abandoned=%s", receipt_id, new_id, abandoned)
    return enqueued
