"""`connector worker`: an RQ worker with the scheduler and the sweeper, sharing the web app's settings."""

from __future__ import annotations

import logging
import os

from rq import SimpleWorker

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
    worker = SimpleWorker([ctx.queue], connection=ctx.redis)
    jobs.on_worker_start(ctx)
    sweeper = SweeperThread(ctx)
    if settings.jobs.sweep_interval_seconds <= 0:
        log.info("sweeper off (jobs.sweep_interval_seconds = 0)")
    elif burst:
        sweep(ctx)
    else:
        sweeper.start()
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
    finally:
        sweeper.stop()
        ctx.close()
