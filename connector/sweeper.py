"""Re-enqueue receipts that never reached the queue (Redis was down) or whose job was abandoned."""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import timedelta

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import update

from connector.context import Context
from connector.crm_writes.flush import sweep_crm_writes
from connector.jobs import (
    conversions_next_key,
    enqueue_booking_release,
    enqueue_conversions_send,
    enqueue_receipt,
    held_bookings,
    lease_seconds,
    pending_receipts,
    receipt_job_id,
)
from connector.stages.work import sweep_stage_changes
from connector.store.models import Receipt
from connector.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

LOCK_KEY = "connector:sweeper:{queue}"
"""Redis key that lets one sweeper per queue run at a time across all workers."""

WAITING_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def sweep(ctx: Context) -> int:
    """One pass: enqueue every stranded receipt; returns how many were enqueued."""
    interval = ctx.settings.jobs.sweep_interval_seconds
    if not ctx.redis.set(LOCK_KEY.format(queue=ctx.queue.name), "1", nx=True, ex=max(interval, 1)):
        return 0
    enqueued = 0
    for receipt_id, job_id, abandoned, attempts in pending_receipts(ctx):
        if not abandoned and _job_is_live(ctx, job_id or receipt_job_id(receipt_id)):
            continue
        new_job_id = f"{receipt_job_id(receipt_id)}-{secrets.token_hex(4)}"
        if enqueue_receipt(ctx, receipt_id, job_id=new_job_id, attempts_done=attempts):
            with ctx.sessions.begin() as session:
                session.execute(update(Receipt).where(Receipt.id == receipt_id).values(job_id=new_job_id))
            enqueued += 1
            log.info(
                "sweeper enqueued receipt_id=%s job_id=%s abandoned=%s", receipt_id, new_job_id, abandoned
            )
    enqueued += sweep_crm_writes(ctx)
    for lead_id in held_bookings(ctx):
        enqueued += enqueue_booking_release(ctx, lead_id)
    enqueued += sweep_stage_changes(ctx)
    return enqueued + sweep_conversions(ctx)


def sweep_conversions(ctx: Context) -> int:
    """Kick the sender of every pixel whose conversions are overdue or held by a dead attempt."""
    from connector.conversions.dispatch import due_pixels

    kicked = 0
    grace = ctx.settings.jobs.sweep_grace_seconds + ctx.settings.conversions.batch_window_seconds
    for pixel_id in due_pixels(ctx, grace):
        scheduled = ctx.redis.get(conversions_next_key(ctx, pixel_id))
        if scheduled and _job_is_live(ctx, scheduled.decode()):
            continue
        if enqueue_conversions_send(ctx, pixel_id, delay=0, force=True):
            kicked += 1
            log.info("sweeper kicked the conversions sender of pixel=%s", pixel_id)
    return kicked


def _job_is_live(ctx: Context, job_id: str) -> bool:
    """Queued or scheduled jobs will run; a job started longer ago than the lease lost its worker."""
    try:
        job = Job.fetch(job_id, connection=ctx.redis)
    except NoSuchJobError:
        return False
    status = job.get_status()
    if status == JobStatus.STARTED:
        started = as_utc(job.started_at)
        return started is not None and started > utcnow() - timedelta(seconds=lease_seconds(ctx))
    return status in WAITING_STATUSES


class SweeperThread(threading.Thread):
    """Runs `sweep` every `jobs.sweep_interval_seconds` beside a worker until stopped."""

    def __init__(self, ctx: Context):
        super().__init__(name="connector-sweeper", daemon=True)
        self.ctx = ctx
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = self.ctx.settings.jobs.sweep_interval_seconds
        while not self.stopped.wait(interval):
            try:
                sweep(self.ctx)
            except RedisError as exc:
                log.warning("sweeper: redis unavailable: %s", exc)
            except Exception:
                log.exception("sweeper pass failed")

    def stop(self) -> None:
        self.stopped.set()
