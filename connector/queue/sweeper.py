"""The sweeper: one pass over every registered sweep, beside every worker, one pass per queue at a time.

Each job topic registers the sweep of its ledger (`@sweeps`): work the ledger holds that no live job
will pick up (Redis was down, a job was lost, a worker died) is enqueued again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from redis.exceptions import RedisError

from connector.context import Context
from connector.queue.defaults import key

log = logging.getLogger(__name__)

Sweep = Callable[[Context], int]
"""Looks at one ledger and enqueues what is stranded; returns how many jobs it queued."""

_SWEEPS: list[tuple[str, Sweep]] = []


def sweeps(name: str) -> Callable[[Sweep], Sweep]:
    """Decorator: run this function in every sweeper pass."""

    def register(func: Sweep) -> Sweep:
        if any(existing == name for existing, _ in _SWEEPS):
            raise ValueError(f"sweep {name!r} registered twice")
        _SWEEPS.append((name, func))
        return func

    return register


def registered() -> list[str]:
    return [name for name, _ in _SWEEPS]


def sweep(ctx: Context) -> int:
    """One pass over every ledger; returns how many jobs were enqueued. One sweeper per queue at a
    time; a failing sweep is logged and the others still run."""
    interval = ctx.settings.jobs.sweep_interval_seconds
    if not ctx.redis.set(key(ctx.settings, "sweeper"), "1", nx=True, ex=max(interval, 1)):
        return 0
    enqueued = 0
    for name, func in _SWEEPS:
        try:
            enqueued += func(ctx)
        except RedisError:
            raise
        except Exception:
            log.exception("sweep of %s failed", name)
    return enqueued


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
