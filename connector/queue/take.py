"""A running job takes the queued jobs of its kind that wait behind it, to do their work with its own.

The intake queues one job per group commit, a few receipts each; after a burst a worker runs hundreds of
them, and per-job costs (RQ's bookkeeping, a claim, a commit) come to more than the receipts' own work.
One server-side script pops the jobs from the head of the queue while their ids carry the kind's prefix,
marks each started by this worker (as RQ's `prepare_for_execution` does, so `job_is_live` sees it alive
for the lease) and returns their hashes. Each taken job then ends as RQ ends a job: finished with its own
return value, or given back to the head of the queue when the taker could not do its work. A worker that
dies holding taken jobs leaves them started; once the lease is over they expire, and the sweeper
enqueues whatever their receipts still need, as for any job whose worker died.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.commands.core import Script
from rq.job import Job, JobStatus
from rq.results import Result
from rq.utils import utcformat

from connector.context import Context
from connector.queue.defaults import RESULT_TTL_SECONDS, job_lease_seconds
from connector.timeutil import utcnow

_TAKE = """
local taken = {}
for _ = 1, tonumber(ARGV[1]) do
  local id = redis.call('LINDEX', KEYS[1], 0)
  if not id or string.sub(id, 1, #ARGV[2]) ~= ARGV[2] then break end
  redis.call('LPOP', KEYS[1])
  local key = ARGV[3] .. id
  if redis.call('HGET', key, 'status') == 'queued' then
    redis.call('HSET', key, 'status', 'started', 'started_at', ARGV[4], 'last_heartbeat', ARGV[4],
      'worker_name', ARGV[5])
    redis.call('EXPIRE', key, ARGV[6])
    taken[#taken + 1] = id
    taken[#taken + 1] = redis.call('HGETALL', key)
  end
end
return taken
"""
"""KEYS: the queue; ARGV: most jobs to take, the id prefix, the job hash key prefix, the start time,
the worker's name, the taken hash's expiry (seconds). Returns id, hash, id, hash..."""


def take_queued(ctx: Context, prefix: str, count: int, worker_name: str) -> list[Job]:
    """Up to `count` jobs from the head of the queue, while their ids start with `prefix`, each now
    started by `worker_name`; raises RedisError when Redis is unreachable."""
    if count <= 0:
        return []
    queue = ctx.queue
    started = utcformat(utcnow())
    expiry = job_lease_seconds(ctx.settings) + 1
    flat = _script(ctx, "take_script", _TAKE)(
        keys=[queue.key], args=[count, prefix, Job.redis_job_namespace_prefix, started, worker_name, expiry]
    )
    jobs = []
    for job_id, fields in zip(flat[::2], flat[1::2], strict=True):
        job = Job(_text(job_id), connection=ctx.redis, serializer=queue.serializer)
        job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
        jobs.append(job)
    return jobs


def finish_taken(ctx: Context, done: Sequence[tuple[Job, Any]], worker_name: str) -> None:
    """Each taken job finished with its return value, kept as long as RQ keeps a job's result."""
    if not done:
        return
    ended = utcnow()
    with ctx.redis.pipeline() as pipe:
        for job, value in done:
            job.set_status(JobStatus.FINISHED, pipeline=pipe)
            pipe.hset(job.key, "ended_at", utcformat(ended))
            Result.create(
                job,
                Result.Type.SUCCESSFUL,
                ttl=RESULT_TTL_SECONDS,
                return_value=value,
                worker_name=worker_name,
                pipeline=pipe,
                execution_started_at=job.started_at,
                execution_ended_at=ended,
            )
            job.finished_job_registry.add(job, RESULT_TTL_SECONDS, pipe)
            pipe.expire(job.key, RESULT_TTL_SECONDS)
        pipe.execute()


def give_back(ctx: Context, jobs: Sequence[Job]) -> None:
    """Put taken jobs back at the head of the queue, queued again, in their order."""
    if not jobs:
        return
    with ctx.redis.pipeline() as pipe:
        for job in reversed(jobs):
            pipe.hset(job.key, mapping={"status": JobStatus.QUEUED, "worker_name": ""})
            pipe.hdel(job.key, "started_at", "last_heartbeat")
            pipe.persist(job.key)
            pipe.lpush(ctx.queue.key, job.id)
        pipe.execute()


def _script(ctx: Context, name: str, source: str) -> Script:
    script: Script | None = ctx.__dict__.get(name)
    if script is None:  # registering makes no round trip; the first call loads it if Redis lacks it
        script = ctx.__dict__[name] = ctx.redis.register_script(source)
    return script


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
