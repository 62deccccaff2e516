"""Stage-change jobs: the resolver (every ready change, in rounds) and the polling fallback."""

from __future__ import annotations

import logging
from collections import defaultdict

from redis.exceptions import RedisError

from connector import context
from connector.context import Context
from connector.errors import ConnectorError
from connector.jobs.conversions import enqueue_conversions_send
from connector.jobs.deals import enqueue_deal_flush
from connector.queue.defaults import key
from connector.queue.enqueue import enqueue_once, marked_job_is_live, take_turn
from connector.queue.sweeper import sweeps
from connector.stages.poll import poll_once, polling_on
from connector.stages.resolution import BATCH, claim, overdue, run_batch, seconds_until_next_change

log = logging.getLogger(__name__)


def _resolver_marker(ctx: Context) -> str:
    """Redis key naming the scheduled resolver run; while it lives, new changes join that run."""
    return key(ctx.settings, "stages:resolve")


def _poll_marker(ctx: Context) -> str:
    """Redis key naming the scheduled poll: one poll per queue is ever scheduled."""
    return key(ctx.settings, "stages:poll")


def enqueue_stage_resolution(ctx: Context, delay: float = 0.0, force: bool = False) -> bool:
    """Schedule `resolve_stage_changes` unless a run is already scheduled; False when Redis is down."""
    try:
        return enqueue_once(
            ctx,
            _resolver_marker(ctx),
            resolve_stage_changes,
            prefix="stages",
            description="resolve CRM stage changes",
            delay=delay,
            force=force,
        )
    except RedisError as exc:
        log.warning("queue unavailable, stage changes left for the sweeper: %s", exc)
        return False


def resolve_stage_changes() -> dict[str, int]:
    """The job: resolve every ready stage change, batch by batch, then send the conversions."""
    ctx = context.current()
    take_turn(ctx, _resolver_marker(ctx))
    counts: dict[str, int] = defaultdict(int)
    pixels: set[str] = set()
    retry_in: float | None = None
    while True:
        token, rows = claim(ctx, BATCH)
        if not rows:
            break
        for outcome, pixel, delay in run_batch(ctx, token, rows):
            counts[outcome] += 1
            if pixel:
                pixels.add(pixel)
            if delay is not None:
                retry_in = delay if retry_in is None else min(retry_in, delay)
        if retry_in is not None:
            break
    for pixel_id in pixels:
        enqueue_conversions_send(ctx, pixel_id)
    if counts and _writes_deals(ctx):  # the records learned of get their attribution written
        enqueue_deal_flush(ctx, "stage changes")
    if retry_in is None:  # nothing asked to wait, but changes may wait for a retry time (or a lease)
        retry_in = seconds_until_next_change(ctx)
    if retry_in is not None:
        enqueue_stage_resolution(ctx, delay=retry_in)
    log.info("stage changes resolved: %s", dict(counts))
    return dict(counts)


def _writes_deals(ctx: Context) -> bool:
    """Does a mapping write attribution onto the configured CRM's opportunities or deals?"""
    return any(m.for_deals and m.writes for m in ctx.mappings.for_crm(ctx.settings.crm.provider))


def schedule_poll(ctx: Context, delay: float) -> bool:
    """Schedule the next poll in `delay` seconds unless one is scheduled; the sweeper calls it too."""
    if not polling_on(ctx):
        return False
    try:
        return enqueue_once(
            ctx,
            _poll_marker(ctx),
            poll_stage_changes,
            prefix="stages-poll",
            description="poll CRM stage changes",
            delay=delay,
        )
    except RedisError as exc:
        log.warning("queue unavailable, next stage poll left for the sweeper: %s", exc)
        return False


def poll_stage_changes() -> int:
    """The job: one poll, then the next one in `stages.poll_interval_seconds`."""
    ctx = context.current()
    take_turn(ctx, _poll_marker(ctx))
    try:
        new = poll_once(ctx)
    except ConnectorError as exc:
        log.warning("stage poll failed, next poll as scheduled: %s", exc)
        new = 0
    if new:
        enqueue_stage_resolution(ctx)
    schedule_poll(ctx, ctx.settings.stages.poll_interval_seconds)
    return new


@sweeps("stage changes")
def sweep_stage_changes(ctx: Context) -> int:
    """Kick the resolver when changes wait past their time (Redis was down, a worker died), and make
    sure a poll is scheduled when polling is on."""
    polled = int(schedule_poll(ctx, 0))
    if not overdue(ctx) or marked_job_is_live(ctx, _resolver_marker(ctx)):
        return polled
    return polled + int(enqueue_stage_resolution(ctx, force=True))
