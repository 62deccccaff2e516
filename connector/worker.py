"""`connector worker`: an RQ worker with the scheduler and the sweeper, sharing the web app's settings."""

from __future__ import annotations

import logging
import os
import time

from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.exceptions import StopRequested

from connector import context, jobs
from connector.config import Settings
from connector.context import Context
from connector.queue.sweeper import SweeperThread, sweep
from connector.supervisor import die_with_parent

log = logging.getLogger(__name__)


def run_worker(settings: Settings, burst: bool = False) -> None:
    """Process jobs until SIGTERM/SIGINT (warm shutdown: the current job finishes first).

    SimpleWorker runs jobs in this process: the database pool and HTTP clients are reused across jobs,
    and the ledger's claims (not process isolation) are what make a crashed job safe to run again.
    """
    # RQ forks its scheduler as a child process; without this it outlives a worker that is killed.
    os.register_at_fork(after_in_child=die_with_parent)
    ctx = Context(settings)
    context.install(ctx)
    jobs.on_worker_start(ctx)
    sweeper = SweeperThread(ctx)
    if settings.jobs.sweep_interval_seconds <= 0:
        log.info("sweeper off (jobs.sweep_interval_seconds = 0)")
    elif burst:
        sweep(ctx)
    else:
        sweeper.start()
    try:
        while True:
            worker = SimpleWorker(
                [ctx.queue], connection=ctx.redis, maintenance_interval=SCHEDULER_CHECK_SECONDS
            )
            try:
                worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
            except RedisError as exc:  # RQ's loop gave up, then could not even say so to Redis
                log.warning("worker lost Redis: %s", exc)
            except StopRequested:
                break
            if burst or worker._stop_requested or not _redis_lost(ctx):
                break
            if not _wait_for_redis(ctx):
                break
            jobs.on_worker_start(ctx)
    finally:
        sweeper.stop()
        ctx.close()


SCHEDULER_CHECK_SECONDS = 15
"""How often the worker's maintenance runs, which is also when RQ starts its scheduler process again if that
died (it does when Redis goes away). RQ's default is 10 minutes: after a Redis outage every job scheduled for
later (retries, backoffs, delayed sends) would wait that long."""

RECONNECT_MAX_SECONDS = 10.0
"""Longest wait between two attempts to reach Redis again (seconds); the first is 0.5 s."""


def _redis_lost(ctx: Context) -> bool:
    """Did RQ's loop end because Redis went away (rather than on request)?"""
    try:
        ctx.redis.ping()
    except RedisError:
        return True
    return False


def _wait_for_redis(ctx: Context) -> bool:
    """Wait, with backoff, until Redis answers again; False when asked to stop meanwhile. The jobs are
    in the ledger, not lost: the sweeper re-enqueues what the outage stranded."""
    delay = 0.5
    log.error("Redis is unreachable: the worker waits for it (jobs stay in the ledger)")
    try:
        while True:
            time.sleep(delay)
            if not _redis_lost(ctx):
                log.warning("Redis is back: the worker resumes")
                return True
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
    except (StopRequested, KeyboardInterrupt):
        return False
