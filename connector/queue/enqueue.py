"""Putting jobs on RQ: now, later, or "unless one is already scheduled"; and whether a job still lives.

Every enqueue raises RedisError when Redis is unreachable; callers decide what that means (the ledger
keeps the work either way and the sweeper enqueues it once Redis is back).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from redis.client import Pipeline
from rq import Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from connector.context import Context
from connector.queue.defaults import FAILURE_TTL_SECONDS, RESULT_TTL_SECONDS, job_lease_seconds
from connector.timeutil import as_utc, utcnow

WAITING_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
"""Job states that will run without anyone's help."""


def new_job_id(prefix: str) -> str:
    """A job id that says what the job is and never repeats."""
    return f"{prefix}-{secrets.token_hex(4)}"


def schedule(
    ctx: Context,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str,
    description: str,
    delay: float | None = None,
    retry: Retry | None = None,
    failure_ttl: int = FAILURE_TTL_SECONDS,
    pipeline: Pipeline | None = None,
) -> Job:
    """Enqueue `func(*args)` (a function, or its dotted name) now, or in `delay` seconds through RQ's
    scheduler, with the common options."""
    options: dict[str, Any] = {
        "job_id": job_id,
        "description": description,
        "job_timeout": ctx.settings.jobs.job_timeout_seconds,
        "result_ttl": RESULT_TTL_SECONDS,
        "failure_ttl": failure_ttl,
        "retry": retry,
    }
    target: Any = func  # RQ takes a function or its dotted name; its stubs name one type for both
    if delay and delay > 0:
        return ctx.queue.enqueue_in(timedelta(seconds=delay), target, *args, **options)
    return ctx.queue.enqueue(target, *args, pipeline=pipeline, **options)


def enqueue_once(
    ctx: Context,
    marker: str,
    func: Callable[..., Any],
    *args: Any,
    prefix: str,
    description: str,
    delay: float = 0.0,
    force: bool = False,
) -> bool:
    """Schedule `func(*args)` in `delay` seconds unless the job named by the Redis key `marker` is still
    waiting; True when this call queued one. `force` replaces a marked job the sweeper found dead.

    The marker holds the job's id until the job starts (`take_turn`) or the lease runs out, so arrivals
    in between join the scheduled run instead of queueing their own - unless that run is later than this
    one is needed (a retry far off, new work now): then this earlier run is queued and takes the marker;
    the later one still runs and finds its work done.
    """
    job_id = new_job_id(prefix)
    lease = job_lease_seconds(ctx.settings)
    ttl = int(delay + lease) + 1
    if not ctx.redis.set(marker, job_id, nx=not force, ex=ttl):
        scheduled_in = ctx.redis.pttl(marker) / 1000 - lease - 1  # the marked run's delay, to a second
        if scheduled_in <= delay + 1:
            return False
        ctx.redis.set(marker, job_id, ex=ttl)
    schedule(ctx, func, *args, job_id=job_id, description=description, delay=delay)
    return True


def take_turn(ctx: Context, marker: str) -> None:
    """First step of a job queued by `enqueue_once`: work arriving from now on schedules a new run,
    since this one may already have looked past it."""
    job = get_current_job()
    if job is not None and ctx.redis.get(marker) == job.id.encode():
        ctx.redis.delete(marker)


def job_is_live(ctx: Context, job_id: str) -> bool:
    """Queued or scheduled jobs will run; a job started longer ago than the lease lost its worker."""
    try:
        job = Job.fetch(job_id, connection=ctx.redis)
    except NoSuchJobError:
        return False
    status = job.get_status()
    if status == JobStatus.STARTED:
        started = as_utc(job.started_at)
        lease = timedelta(seconds=job_lease_seconds(ctx.settings))
        return started is not None and started > utcnow() - lease
    return status in WAITING_STATUSES


def marked_job_is_live(ctx: Context, marker: str) -> bool:
    """Does the job `enqueue_once` marked under `marker` still live?"""
    job_id = ctx.redis.get(marker)
    return bool(job_id) and job_is_live(ctx, _text(job_id))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
