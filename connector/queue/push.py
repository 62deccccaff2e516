"""One job onto its queue in one Redis command: the intake's enqueue, once per group commit.

RQ's own enqueue sends six commands in a MULTI/EXEC transaction; on the intake path that round trip,
packing and parsing cost more CPU than the commit. Here RQ still builds the job (`Queue.create_job`,
`Job.to_dict`: the very hash its workers read), and one server-side script stores it, pushes its id and
registers the queue, as atomically as RQ's transaction.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.commands.core import Script
from rq.job import JobStatus

from connector.context import Context
from connector.queue.defaults import RESULT_TTL_SECONDS
from connector.timeutil import utcnow

_PUSH = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], KEYS[2])
"""
"""KEYS: the job's hash, the queue, RQ's set of queues; ARGV: the job id, then the hash's fields and values."""


def push(ctx: Context, func: str, *args: Any, job_id: str, description: str, failure_ttl: int) -> None:
    """Enqueue `func(*args)` (its dotted name) now, as `schedule` would with no delay and no retry;
    raises RedisError when Redis is unreachable."""
    queue = ctx.queue
    job = queue.create_job(
        func,
        args=args,
        job_id=job_id,
        description=description,
        timeout=ctx.settings.jobs.job_timeout_seconds,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=failure_ttl,
        status=JobStatus.QUEUED,
    )
    job.origin = queue.name
    job.enqueued_at = utcnow()
    fields: list[Any] = []
    for name, value in job.to_dict().items():
        if value != "":  # RQ reads a missing field as it reads an empty one
            fields += (name, value)
    _script(ctx)(keys=[job.key, queue.key, queue.redis_queues_keys], args=[job.id, *fields])


def _script(ctx: Context) -> Script:
    """The script, on a connection of its own held for good: a checkout from the pool polls the socket
    first, a system call that under load hands the GIL to another thread and waits to get it back."""
    script: Script | None = ctx.__dict__.get("push_script")
    if script is None:  # registering makes no round trip; the first call loads it if Redis lacks it
        held = Redis(connection_pool=ctx.redis.connection_pool, single_connection_client=True)
        script = ctx.__dict__["push_script"] = held.register_script(_PUSH)
    return script
