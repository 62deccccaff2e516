"""One job onto its queue in one Redis command: the intake's enqueue, once per group commit.

RQ's own enqueue sends six commands in a MULTI/EXEC transaction; on the intake path that round trip,
packing and parsing cost more CPU than the commit. Here RQ builds the job once per function and options
(`Queue.create_job`, `Job.to_dict`: the very hash its workers read); each push takes that hash with the
job's own arguments (serialized by RQ's job), description and times, and one server-side script stores
it, pushes its id and registers the queue, as atomically as RQ's transaction. The command is packed and
sent on a connection of its own, held for good: redis-py's client steps per command (a pool checkout that
polls the socket, per-argument encoding, the script's protocol checks) cost twice the round trip.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from dataclasses import dataclass
from typing import Any

import hiredis
from redis import Redis
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError, DataError, NoScriptError, TimeoutError
from rq.job import Job, JobStatus
from rq.utils import utcformat

from connector.context import Context
from connector.queue.defaults import RESULT_TTL_SECONDS
from connector.timeutil import utcnow

_PUSH = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], KEYS[2])
"""
"""KEYS: the job's hash, the queue, RQ's set of queues; ARGV: the job id, then the hash's fields and values."""

_PUSH_SHA = hashlib.sha1(_PUSH.encode()).hexdigest()

ATTEMPTS = 3
"""Tries of one push: a Redis back from a restart both dropped the connection and forgot the script."""


def push(ctx: Context, func: str, *args: Any, job_id: str, description: str, failure_ttl: int) -> None:
    """Enqueue `func(*args)` (its dotted name) now, as `schedule` would with no delay and no retry;
    raises RedisError when Redis is unreachable."""
    ctx.kept("pusher", _Pusher).push(func, args, job_id, description, failure_ttl)


@dataclass
class _Template:
    """A job as RQ built it for one function and its options; `fields` is its hash without the values
    that differ per job."""

    job: Job
    fields: dict[str, Any]


class _Pusher:
    """This process's pushes: the job templates and the held connection (one push at a time on it)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.client = Redis(connection_pool=ctx.redis.connection_pool, single_connection_client=True)
        self._templates: dict[tuple[str, int], _Template] = {}
        self._lock = threading.Lock()

    def push(self, func: str, args: tuple[Any, ...], job_id: str, description: str, failure_ttl: int) -> None:
        queue = self.ctx.queue
        stamp = utcformat(utcnow())
        with self._lock:
            template = self._template(func, failure_ttl)
            template.job.args = args  # serialized as RQ's job serializes its arguments
            data = zlib.compress(template.job.data)
            fields = {
                **template.fields,
                "created_at": stamp,
                "enqueued_at": stamp,
                "description": description,
                "data": data,
            }
            keys = (queue.job_class.key_for(job_id), queue.key, queue.redis_queues_keys)
            self._evalsha(keys, (job_id, *(item for pair in fields.items() for item in pair)))

    def _template(self, func: str, failure_ttl: int) -> _Template:
        template = self._templates.get((func, failure_ttl))
        if template is None:
            queue = self.ctx.queue
            job = queue.create_job(
                func,
                job_id="template",
                timeout=self.ctx.settings.jobs.job_timeout_seconds,
                result_ttl=RESULT_TTL_SECONDS,
                failure_ttl=failure_ttl,
                status=JobStatus.QUEUED,
            )
            job.origin = queue.name
            job.enqueued_at = utcnow()
            per_job = ("created_at", "enqueued_at", "description", "data")
            # RQ reads a missing field as it reads an empty one; a str enum (the status) is sent as its value
            fields = {
                name: value.encode() if isinstance(value, str) else value
                for name, value in job.to_dict().items()
                if value != "" and name not in per_job
            }
            template = self._templates[(func, failure_ttl)] = _Template(job, fields)
        return template

    def _evalsha(self, keys: tuple[str, ...], args: tuple[Any, ...]) -> None:
        """EVALSHA on the held connection: the script loaded when Redis lacks it (a restart, a flush), the
        command sent once more on a new connection when the held one was dropped."""
        try:
            command = hiredis.pack_command(("EVALSHA", _PUSH_SHA, len(keys), *keys, *args))
        except TypeError as exc:
            raise DataError(f"a job field Redis cannot store: {exc}") from exc
        connection = self.client.connection
        assert connection is not None, "a single-connection client holds one"
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            try:
                return self._run(connection, command)
            except NoScriptError:
                if last:
                    raise
                self.client.script_load(_PUSH)
            except (ConnectionError, TimeoutError):  # redis-py has disconnected it; send() reconnects
                if last:
                    raise

    @staticmethod
    def _run(connection: AbstractConnection, command: bytes) -> None:
        connection.send_packed_command([command], check_health=False)
        connection.read_response()
