"""The deal attribution job: write the person's attribution onto newly learned opportunities and deals.

Queued by the stage resolver after each run that learned of records; it shares the CRM's pause with the
people writes (a rate limit or an outage stops both) and retries a batch it could not send.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from connector import context
from connector.context import Context
from connector.crm.base import AuthError, RetryableError
from connector.crm_writes.deals import claim, overdue_deal, release, seconds_until_next_deal, write_batch
from connector.jobs.crm import crm_answered, crm_paused_ms, pause_crm
from connector.queue.defaults import key
from connector.queue.enqueue import enqueue_once, take_turn
from connector.queue.sweeper import sweeps

log = logging.getLogger(__name__)

JOB_PREFIX = "deal-flush"


def _marker(ctx: Context) -> str:
    """Redis key naming the queued flush that will look at every row committed before it starts."""
    return key(ctx.settings, "deals:flush")


def _later_marker(ctx: Context) -> str:
    """Redis key naming the flush scheduled for when waiting rows become due (a pause, a retry)."""
    return key(ctx.settings, "deals:flush-later")


def enqueue_deal_flush(ctx: Context, reason: str, delay: float | None = None) -> bool:
    """Queue a flush now, or after `delay` seconds, unless one is already queued for that."""
    marker = _marker(ctx) if delay is None else _later_marker(ctx)
    try:
        return enqueue_once(
            ctx,
            marker,
            flush_deal_attributions,
            prefix=JOB_PREFIX,
            description=f"write deal attributions ({reason})",
            delay=delay or 0.0,
        )
    except RedisError as exc:
        log.warning("queue unavailable, deal flush (%s) left for the sweeper: %s", reason, exc)
        return False


def flush_deal_attributions() -> str:
    """Write every ready deal attribution in batches; returns a short summary for the job result."""
    ctx = context.current()
    ctx.redis.delete(_marker(ctx))
    take_turn(ctx, _later_marker(ctx))
    if not ctx.crm_enabled:
        return "no crm configured"
    paused = crm_paused_ms(ctx)
    if paused:
        enqueue_deal_flush(ctx, "after pause", delay=paused / 1000)
        return f"paused for {paused / 1000:.1f}s"
    done = 0
    while True:
        token, rows = claim(ctx, ctx.crm.batch_size)
        if not rows:
            break
        started = time.monotonic()
        try:
            write_batch(ctx, token, rows)
        except (RetryableError, AuthError) as exc:
            delay, failures = pause_crm(ctx, exc)
            release(ctx, token, rows, exc, delay)
            enqueue_deal_flush(ctx, "retry", delay=delay)
            log.warning(
                "deal attributions %s: %d kept pending, retry in %gs (failure %d in a row)",
                f"{type(exc).__name__}: {exc}",
                len(rows),
                delay,
                failures,
            )
            return f"{done} done; paused"
        crm_answered(ctx)
        done += len(rows)
        log.info("deal attributions: %d record(s) in %.2fs", len(rows), time.monotonic() - started)
    wait = seconds_until_next_deal(ctx)
    if wait:  # rows waiting for a retry time: their own flush, then
        enqueue_deal_flush(ctx, "when due", delay=wait)
    return f"{done} done"


@sweeps("deal attributions")
def sweep_deal_attributions(ctx: Context) -> int:
    """Pending rows nobody will flush (Redis was down, a job was lost, a worker died) get a flush."""
    if not ctx.crm_enabled or ctx.redis.exists(_marker(ctx)) or crm_paused_ms(ctx):
        return 0
    if not overdue_deal(ctx):
        return 0
    return int(enqueue_deal_flush(ctx, f"sweep-{int(time.time())}"))
