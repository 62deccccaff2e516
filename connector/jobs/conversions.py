"""The conversions sender: one job per pixel at a time, coalescing events that arrive close together."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq import get_current_job

from connector import context
from connector.context import Context
from connector.conversions.dispatch import drain, due_pixels
from connector.queue.defaults import key
from connector.queue.enqueue import enqueue_once, marked_job_is_live, take_turn
from connector.queue.sweeper import sweeps

log = logging.getLogger(__name__)


def _marker(ctx: Context, pixel_id: str) -> str:
    """Redis key naming the sender job scheduled for a pixel; while it lives, arrivals join it."""
    return key(ctx.settings, f"conversions:{pixel_id}")


def enqueue_conversions_send(
    ctx: Context, pixel_id: str, delay: float | None = None, force: bool = False
) -> bool:
    """Schedule `send_conversions(pixel_id)` in `delay` (default: the batch window) unless one is already
    scheduled; True when a job was queued. `force` replaces a scheduled job the sweeper found dead."""
    conf = ctx.settings.conversions
    delay = conf.batch_window_seconds if delay is None else max(delay, 0.0)
    try:
        queued = enqueue_once(
            ctx,
            _marker(ctx, pixel_id),
            send_conversions,
            pixel_id,
            prefix=f"conversions-{pixel_id}",
            description=f"send conversions for pixel {pixel_id}",
            delay=delay,
            force=force,
        )
    except RedisError as exc:
        log.warning("queue unavailable, pixel=%s conversions left for the sweeper: %s", pixel_id, exc)
        return False
    if queued:
        log.debug("pixel=%s sender in %.1fs", pixel_id, delay)
    return queued


def send_conversions(pixel_id: str) -> dict[str, int]:
    """Drain the pixel's ready conversions (batched, fenced), then schedule the next run if any waits."""
    ctx = context.current()
    job = get_current_job()
    take_turn(ctx, _marker(ctx, pixel_id))
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


@sweeps("conversions")
def sweep_conversions(ctx: Context) -> int:
    """Kick the sender of every pixel whose conversions are overdue or held by a dead attempt."""
    kicked = 0
    grace = ctx.settings.jobs.sweep_grace_seconds + ctx.settings.conversions.batch_window_seconds
    for pixel_id in due_pixels(ctx, grace):
        if marked_job_is_live(ctx, _marker(ctx, pixel_id)):
            continue
        if enqueue_conversions_send(ctx, pixel_id, delay=0, force=True):
            kicked += 1
            log.info("sweeper kicked the conversions sender of pixel=%s", pixel_id)
    return kicked
