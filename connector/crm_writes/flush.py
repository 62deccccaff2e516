"""The CRM write job: coalesce pending writes into batch calls, record every outcome, retry without loss.

Batching without lag: a receipt that queues a write enqueues a flush unless one is already queued (one
Redis SET NX). The flush sends full batches at once; a partial batch waits until its oldest write is
`crm.batch_window_seconds` old - in the queue behind the work that is producing more writes when the
worker is busy, in place (a short sleep) when nothing else is waiting.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError

from connector import context
from connector.context import Context
from connector.crm.base import (
    AuthError,
    CrmError,
    PermanentError,
    RateLimited,
    RetryableError,
    UpsertItem,
    UpsertResult,
)
from connector.crm.configured import crm_adapter, crm_enabled, crm_mappings
from connector.crm_writes.ledger import (
    ClaimedWrite,
    claim,
    earlier_writes,
    pending_writes,
    reclaim_abandoned,
    record_results,
    release,
)
from connector.jobs import backoff_delay, lease_seconds
from connector.mapping import Mapping, submission_values
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

FLUSH_QUEUED_KEY = "connector:crm-flush-queued:{queue}"
"""Set while a flush job is queued that will look at every write committed before it starts."""

PAUSE_KEY = "connector:crm-pause:{queue}"
"""Set while the CRM asked us to wait (rate limit, outage, credentials); its TTL is the wait."""

FAILURES_KEY = "connector:crm-failures:{queue}"
"""Consecutive failed batch calls, which pick the backoff delay; reset by a successful call."""

FLUSH_JOB = "connector.crm_writes.flush.flush_crm_writes"

BUSY_WAIT_FACTOR = 20
"""While other jobs are queued, a partial batch waits up to this many batch windows for them to fill it."""


def _busy(ctx: Context) -> bool:
    """Is other work (not a flush) waiting in the queue? Looks at its first few job ids only."""
    return any(not job_id.startswith("crm-flush-") for job_id in ctx.queue.get_job_ids(0, 20))


def _key(ctx: Context, template: str) -> str:
    return template.format(queue=ctx.settings.jobs.queue)


def enqueue_crm_flush(ctx: Context, reason: str, delay: float | None = None) -> bool:
    """Queue a flush (now, unless one is already queued; or after `delay` seconds); False if not queued."""
    options = {
        "job_timeout": ctx.settings.jobs.job_timeout_seconds,
        "result_ttl": 600,
        "failure_ttl": 7 * 86400,
        "description": f"flush crm writes ({reason})",
    }
    try:
        if delay is not None:
            job_id = f"crm-flush-{ctx.queue.name}-{reason}-{secrets.token_hex(3)}"
            ctx.queue.enqueue_in(timedelta(seconds=delay), FLUSH_JOB, job_id=job_id, **options)
            return True
        if not ctx.redis.set(_key(ctx, FLUSH_QUEUED_KEY), reason, nx=True, ex=lease_seconds(ctx)):
            return False
        job_id = f"crm-flush-{ctx.queue.name}-{reason}"
        try:
            ctx.queue.enqueue(FLUSH_JOB, job_id=job_id, unique=True, **options)
        except DuplicateJobError:  # a finished job of that id is still kept (e.g. after a database reset)
            ctx.queue.enqueue(FLUSH_JOB, job_id=f"{job_id}-{secrets.token_hex(3)}", **options)
    except RedisError as exc:
        log.warning("queue unavailable, crm flush (%s) left for the sweeper: %s", reason, exc)
        return False
    return True


def flush_crm_writes() -> str:
    """Send pending CRM writes in batches; returns a short summary for the job result."""
    ctx = context.current()
    settings = ctx.settings
    ctx.redis.delete(_key(ctx, FLUSH_QUEUED_KEY))
    if not crm_enabled(settings):
        return "no crm configured"
    paused = ctx.redis.pttl(_key(ctx, PAUSE_KEY))
    if paused and paused > 0:
        return f"paused for {paused / 1000:.1f}s"
    reclaim_abandoned(ctx, lease_seconds(ctx))
    sent, after = 0, 0
    while True:
        batch_max = min(settings.crm.batch_max, crm_adapter(settings).batch_size)
        # rows this run already handled (a per-record retry) wait for their own delayed flush
        pending = pending_writes(ctx, batch_max, after)
        if not pending:
            return f"{sent} sent"
        if len(pending) < batch_max:
            age = (utcnow() - pending[0][1]).total_seconds()
            window = settings.crm.batch_window_seconds
            if _busy(ctx) and age < window * BUSY_WAIT_FACTOR:
                # the queued work will add writes to this batch: look again once it has run
                enqueue_crm_flush(ctx, f"w{pending[0][0]}-{int(time.time() * 1000)}")
                return f"{sent} sent; {len(pending)} waiting for their batch"
            if age < window:  # nothing else to do: wait out the window here, not via the scheduler
                time.sleep(window - age)
                pending = pending_writes(ctx, batch_max, after)
        after = pending[-1][0]
        writes = claim(ctx, [p[0] for p in pending])
        if writes and not _send(ctx, writes):
            return f"{sent} sent; paused"
        sent += len(writes)


def _items(ctx: Context, writes: list[ClaimedWrite]) -> tuple[list[UpsertItem], list[ClaimedWrite]]:
    mappings = crm_mappings(ctx.settings)
    items, unmapped = [], []
    earlier = _earlier(ctx, writes)
    for w in writes:
        mapping = mappings.for_submission(w.crm, w.source, w.form_id)
        if mapping is None or mapping.object != w.object_type:
            mapping = mappings.get(w.crm, w.object_type)
        if mapping is None or not mapping.writes:
            unmapped.append(w)
            continue
        by_email = mapping.match is not None and mapping.match.value == "email" and bool(w.email)
        written = earlier.get((w.object_type, (w.email or "").strip().lower())) if by_email else None
        known = written if written and decided_by(mapping, w, written) else None
        new = by_email and written is None
        items.append(
            UpsertItem(str(w.id), mapping, w.attribution, w.contact, w.source, w.form_id, new, known)
        )
    return items, unmapped


def _earlier(ctx: Context, writes: list[ClaimedWrite]) -> dict[tuple[str, str], dict[str, Any]]:
    """(object, email) -> fields our earlier writes put there: one query per object in the batch."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for crm, obj in {(w.crm, w.object_type) for w in writes}:
        emails = {w.email for w in writes if w.email and w.object_type == obj}
        found |= {(obj, e): f for e, f in earlier_writes(ctx, crm, obj, emails).items()}
    return found


def decided_by(mapping: Mapping, w: ClaimedWrite, written: dict[str, Any]) -> bool:
    """Do our earlier writes decide every once / if_empty field this submission has a value for?

    A `once` group we wrote is taken; an `if_empty` field we wrote is filled. Anything else needs the
    record's current value. (A value a CRM user cleared after our write stays cleared: first touch is the
    first one we recorded.)
    """
    rules = mapping.resolve(w.source, w.form_id).fields
    values = submission_values(w.attribution, w.contact, w.source, w.form_id)
    ours = {name.lower() for name, value in written.items() if value not in (None, "")}
    taken = {r.group for r in rules if r.policy == "once" and r.target.lower() in ours}
    for rule in rules:
        has_value = (
            rule.constant is not None or rule.default is not None or any(values.get(s) for s in rule.sources)
        )
        if rule.policy == "always" or not has_value:
            continue
        if rule.policy == "once" and rule.group not in taken:
            return False
        if rule.policy == "if_empty" and rule.target.lower() not in ours:
            return False
    return True


def _send(ctx: Context, writes: list[ClaimedWrite]) -> bool:
    """One batch: call the adapter and record the outcomes; False when the CRM asked us to wait."""
    settings = ctx.settings
    max_attempts = settings.jobs.max_attempts
    items, unmapped = _items(ctx, writes)
    if unmapped:
        error = PermanentError("no mapping writes this object any more", "NO_MAPPING")
        record_results(ctx, unmapped, [_failed(w, error) for w in unmapped], max_attempts)
    if not items:
        return True
    mapped = [w for w in writes if w not in unmapped]
    started = time.monotonic()
    try:
        results = crm_adapter(settings).upsert_people(items)
    except (RetryableError, AuthError) as exc:
        _pause(ctx, mapped, exc)
        return False
    except PermanentError as exc:
        results = [_failed(w, exc) for w in mapped]
    except Exception as exc:
        _pause(ctx, mapped, RetryableError(f"{type(exc).__name__}: {exc}", "UNEXPECTED"))
        raise
    ctx.redis.delete(_key(ctx, FAILURES_KEY))
    retry_delays = record_results(ctx, mapped, results, max_attempts)
    if retry_delays:
        enqueue_crm_flush(ctx, "record-retry", delay=max(retry_delays))
    log.info(
        "crm %s: %d write(s) sent in %.2fs, %d ok, first event_id=%s",
        settings.crm.provider,
        len(mapped),
        time.monotonic() - started,
        sum(1 for r in results if r.ok),
        mapped[0].event_id,
    )
    return True


def _failed(w: ClaimedWrite, error: CrmError) -> UpsertResult:
    return UpsertResult(str(w.id), error=error)


def _pause(ctx: Context, writes: list[ClaimedWrite], exc: CrmError) -> None:
    """Keep the batch pending and stop sending until the CRM can take it: Retry-After, else backoff."""
    failures = int(ctx.redis.incr(_key(ctx, FAILURES_KEY)))
    ctx.redis.expire(_key(ctx, FAILURES_KEY), 86400)
    delay = exc.retry_after if isinstance(exc, RateLimited) else backoff_delay(ctx, failures)
    release(ctx, writes, exc, delay)
    ctx.redis.set(_key(ctx, PAUSE_KEY), type(exc).__name__, px=max(int(delay * 1000), 1))
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


def sweep_crm_writes(ctx: Context) -> bool:
    """Sweeper hook: pending writes nobody will flush (Redis was down, a job was lost) get a flush."""
    if not crm_enabled(ctx.settings):
        return False
    if ctx.redis.exists(_key(ctx, FLUSH_QUEUED_KEY)) or ctx.redis.exists(_key(ctx, PAUSE_KEY)):
        return False
    pending = pending_writes(ctx, 1)
    grace = ctx.settings.jobs.sweep_grace_seconds
    if not pending or (utcnow() - pending[0][1]).total_seconds() < grace:
        return False
    return enqueue_crm_flush(ctx, f"sweep-{int(time.time())}")
