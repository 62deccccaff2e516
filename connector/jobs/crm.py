"""The CRM write job: coalesce pending writes into batch calls, record every outcome, retry without loss.

Batching without lag: a receipt that queues a write enqueues a flush unless one is already queued. The
flush sends full batches at once; a partial batch waits until `crm.batch_window_seconds` pass without a
new write (at most BUSY_WAIT_FACTOR windows from its oldest) - in the queue behind the work that is
producing more writes when the worker is busy, in place (a short sleep) when nothing else is waiting.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from connector import context
from connector.context import Context
from connector.crm.base import AuthError, CrmError, PermanentError, RateLimited, RetryableError
from connector.crm_writes.batch import failed, upsert_items
from connector.crm_writes.ledger import (
    ClaimedWrite,
    claim,
    overdue_write,
    pending_writes,
    record_results,
    release,
    seconds_until_next_write,
)
from connector.queue.defaults import backoff_delay, key
from connector.queue.enqueue import enqueue_once, take_turn
from connector.queue.sweeper import sweeps
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

JOB_PREFIX = "crm-flush"

BUSY_WAIT_FACTOR = 20
"""While other jobs are queued, a partial batch waits up to this many batch windows for them to fill it."""


def _marker(ctx: Context) -> str:
    """Redis key naming the queued flush that will look at every write committed before it starts."""
    return key(ctx.settings, "crm:flush")


def _later_marker(ctx: Context) -> str:
    """Redis key naming the flush scheduled for when waiting writes become due (a pause, a retry)."""
    return key(ctx.settings, "crm:flush-later")


def _pause_key(ctx: Context) -> str:
    """Redis key set while the CRM asked us to wait (rate limit, outage, credentials); its TTL is the wait."""
    return key(ctx.settings, "crm:pause")


def _failures_key(ctx: Context) -> str:
    """Redis key counting consecutive failed batch calls, which pick the backoff; reset by a success."""
    return key(ctx.settings, "crm:failures")


def enqueue_crm_flush(ctx: Context, reason: str, delay: float | None = None) -> bool:
    """Queue a flush now, or after `delay` seconds, unless one is already queued for that; False if
    none was queued."""
    description = f"flush crm writes ({reason})"
    marker = _marker(ctx) if delay is None else _later_marker(ctx)
    try:
        return enqueue_once(
            ctx, marker, flush_crm_writes, prefix=JOB_PREFIX, description=description, delay=delay or 0.0
        )
    except RedisError as exc:
        log.warning("queue unavailable, crm flush (%s) left for the sweeper: %s", reason, exc)
        return False


def _busy(ctx: Context) -> bool:
    """Is other work (not a flush) waiting in the queue? Looks at its first few job ids only."""
    return any(not job_id.startswith(JOB_PREFIX) for job_id in ctx.queue.get_job_ids(0, 20))


def flush_crm_writes() -> str:
    """Send pending CRM writes in batches; returns a short summary for the job result."""
    ctx = context.current()
    ctx.redis.delete(_marker(ctx))  # writes committed from now on queue a new flush
    take_turn(ctx, _later_marker(ctx))
    if not ctx.crm_enabled:
        return "no crm configured"
    paused = ctx.redis.pttl(_pause_key(ctx))
    if paused and paused > 0:  # run early (the scheduler keeps whole seconds): come back when it ends
        enqueue_crm_flush(ctx, "after pause", delay=paused / 1000)
        return f"paused for {paused / 1000:.1f}s"
    summary = _flush(ctx)
    wait = seconds_until_next_write(ctx)
    if wait:  # writes waiting for a retry time: their own flush, then
        enqueue_crm_flush(ctx, "when due", delay=wait)
    return summary


def _flush(ctx: Context) -> str:
    settings = ctx.settings
    sent, after = 0, 0
    while True:
        batch_max = min(settings.crm.batch_max, ctx.crm.batch_size)
        pending = pending_writes(ctx, batch_max, after)
        if not pending:
            return f"{sent} sent"
        if len(pending) < batch_max:
            now = utcnow()
            age = (now - pending[0][1]).total_seconds()
            quiet = (now - pending[-1][1]).total_seconds()  # since the newest write
            window = settings.crm.batch_window_seconds
            if age < window * BUSY_WAIT_FACTOR:
                if _busy(ctx):  # the queued work will add writes to this batch: look again once it has run
                    enqueue_crm_flush(ctx, f"w{pending[0][0]}")
                    return f"{sent} sent; {len(pending)} waiting for their batch"
                if quiet < window:
                    # nothing else queued, yet writes still arrive (a worker that drains faster than the
                    # intake stores): wait here, not via the scheduler, until a window passes without one
                    time.sleep(window - quiet)
                    continue
        after = pending[-1][0]
        writes = claim(ctx, [p[0] for p in pending])
        if writes and not _send(ctx, writes):
            return f"{sent} sent; paused"
        sent += len(writes)


def _send(ctx: Context, writes: list[ClaimedWrite]) -> bool:
    """One batch: call the adapter and record the outcomes; False when the CRM asked us to wait."""
    settings = ctx.settings
    max_attempts = settings.jobs.max_attempts
    items, unmapped = upsert_items(ctx, writes)
    if unmapped:
        error = PermanentError("no mapping writes this object any more", "NO_MAPPING")
        record_results(ctx, unmapped, [failed(w, error) for w in unmapped], max_attempts)
    if not items:
        return True
    mapped = [w for w in writes if w not in unmapped]
    started = time.monotonic()
    try:
        results = ctx.crm.upsert_people(items)
    except (RetryableError, AuthError) as exc:
        _pause(ctx, mapped, exc)
        return False
    except PermanentError as exc:
        results = [failed(w, exc) for w in mapped]
    except Exception as exc:
        _pause(ctx, mapped, RetryableError(f"{type(exc).__name__}: {exc}", "UNEXPECTED"))
        raise
    ctx.redis.delete(_failures_key(ctx))
    record_results(ctx, mapped, results, max_attempts)  # a record's retry is flushed when it is due
    log.info(
        "crm %s: %d write(s) sent in %.2fs, %d ok, first event_id=%s",
        settings.crm.provider,
        len(mapped),
        time.monotonic() - started,
        sum(1 for r in results if r.ok),
        mapped[0].event_id,
    )
    return True


def pause_crm(ctx: Context, exc: CrmError) -> tuple[float, int]:
    """Stop every CRM write (people and deals) until the CRM can take more: Retry-After, else the
    backoff for the failures in a row; returns (delay in seconds, failures)."""
    failures = int(ctx.redis.incr(_failures_key(ctx)))
    ctx.redis.expire(_failures_key(ctx), 86400)
    delay = exc.retry_after if isinstance(exc, RateLimited) else backoff_delay(ctx.settings, failures)
    ctx.redis.set(_pause_key(ctx), type(exc).__name__, px=max(int(delay * 1000), 1))
    return delay, failures


def crm_paused_ms(ctx: Context) -> int:
    """Milliseconds left of a pause the CRM asked for (0: none)."""
    left = ctx.redis.pttl(_pause_key(ctx))
    return int(left) if left and left > 0 else 0


def crm_answered(ctx: Context) -> None:
    """A batch call went through: the next failure starts the backoff again."""
    ctx.redis.delete(_failures_key(ctx))


def _pause(ctx: Context, writes: list[ClaimedWrite], exc: CrmError) -> None:
    """Keep the batch pending and stop sending until the CRM can take it: Retry-After, else backoff."""
    delay, failures = pause_crm(ctx, exc)
    release(ctx, writes, exc, delay)
    enqueue_crm_flush(ctx, "retry", delay=delay)
    level = logging.ERROR if isinstance(exc, AuthError) else logging.WARNING
    log.log(
        level,
        "crm %s %s: %d write(s) kept pending, retry in %gs (failure %d in a row), first event_id=%s%s",
        ctx.settings.crm.provider,
        f"{type(exc).__name__}: {exc}",
        len(writes),
        delay,
        failures,
        writes[0].event_id if writes else None,
        "; check the CRM credentials and the integration user's permissions"
        if isinstance(exc, AuthError)
        else "",
    )


@sweeps("crm writes")
def sweep_crm_writes(ctx: Context) -> int:
    """Pending writes nobody will flush (Redis was down, a job was lost, a worker died) get a flush."""
    if not ctx.crm_enabled:
        return 0
    if ctx.redis.exists(_marker(ctx)) or ctx.redis.exists(_pause_key(ctx)):
        return 0
    if not overdue_write(ctx):
        return 0
    return int(enqueue_crm_flush(ctx, f"sweep-{int(time.time())}"))
