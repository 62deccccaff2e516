"""What the Overview shows about the running parts: database, Redis, RQ workers and queue, and the
ledgers' waiting, due, in-progress and overdue rows. Each read is short and indexed; a part that does
not answer is reported, never raised."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rq import Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from connector.context import Context
from connector.queue import ledgers
from connector.queue.leased import LeasedLedger
from connector.timeutil import as_utc, utcnow

STALE_HEARTBEAT_SECONDS = 420
"""A worker silent this long is shown as stale (seconds): RQ's default worker TTL; an idle worker
beats at least this often."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    elapsed_ms: float


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    hostname: str
    pid: int | None
    state: str
    last_heartbeat: datetime | None
    current_job: str | None
    successful: int
    failed: int
    stale: bool


@dataclass(frozen=True)
class QueueInfo:
    name: str
    waiting: int | None = None
    scheduled: int | None = None
    started: int | None = None
    failed: int | None = None
    workers: list[WorkerInfo] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class LedgerCounts:
    name: str
    waiting: int
    due: int
    working: int
    overdue: int


def database_check(ctx: Context) -> Check:
    started = time.perf_counter()
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        detail = ctx.engine.dialect.name
        ok = True
    except Exception as exc:
        detail, ok = f"unavailable: {type(exc).__name__}", False
    return Check("Database", ok, detail, (time.perf_counter() - started) * 1000)


def redis_check(ctx: Context) -> Check:
    started = time.perf_counter()
    try:
        ctx.redis.ping()
        info = ctx.redis.info("server")
        detail, ok = f"Redis {info.get('redis_version', '?')}", True
    except Exception as exc:
        detail, ok = f"unavailable: {type(exc).__name__}", False
    return Check("Redis", ok, detail, (time.perf_counter() - started) * 1000)


def queue_info(ctx: Context, now: datetime | None = None) -> QueueInfo:
    """The RQ queue's depth and registries, and the workers listening to it with their heartbeats."""
    now = now or utcnow()
    queue = ctx.queue
    try:
        workers = [_worker(w, now) for w in Worker.all(queue=queue)]
        return QueueInfo(
            name=queue.name,
            waiting=queue.count,
            scheduled=ScheduledJobRegistry(queue=queue).count,
            started=StartedJobRegistry(queue=queue).count,
            failed=FailedJobRegistry(queue=queue).count,
            workers=sorted(workers, key=lambda w: w.name),
        )
    except Exception as exc:
        return QueueInfo(name=queue.name, error=f"unavailable: {type(exc).__name__}")


def _worker(worker: Any, now: datetime) -> WorkerInfo:  # an rq BaseWorker
    beat = as_utc(worker.last_heartbeat) if worker.last_heartbeat else None
    stale = beat is None or (now - beat).total_seconds() > STALE_HEARTBEAT_SECONDS
    return WorkerInfo(
        name=worker.name,
        hostname=worker.hostname or "",
        pid=worker.pid,
        state=str(worker.get_state()),
        last_heartbeat=beat,
        current_job=worker.get_current_job_id(),
        successful=worker.successful_job_count,
        failed=worker.failed_job_count,
        stale=stale,
    )


def ledger_counts(session: Session, grace_seconds: float, now: datetime | None = None) -> list[LedgerCounts]:
    """Per leased ledger: rows waiting, due now, being worked on, and overdue (should have been taken by
    now). Each count reads a (status, ...) index range of live rows only, never the table's history."""
    now = now or utcnow()
    return [_counts(session, ledger, now, grace_seconds) for ledger in all_ledgers()]


def all_ledgers() -> list[LeasedLedger]:
    return [value for value in vars(ledgers).values() if isinstance(value, LeasedLedger)]


def _counts(session: Session, ledger: LeasedLedger, now: datetime, grace: float) -> LedgerCounts:
    m = ledger.model
    late = now - timedelta(seconds=grace)
    waiting_rows = m.status.in_(ledger.waiting)
    working_rows = m.status == ledger.working

    def count(*where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(m).where(*where)) or 0)

    due_at = m.next_attempt_at
    waiting = count(waiting_rows)
    due = count(waiting_rows, due_at.is_(None)) + count(waiting_rows, due_at <= now) if waiting else 0
    working = count(working_rows)
    abandoned = count(working_rows, m.lease_until < now) if working else 0
    late_waiting = (
        count(waiting_rows, due_at.is_(None), getattr(m, ledger.created) < late)
        + count(waiting_rows, due_at < late)
        if waiting
        else 0
    )
    return LedgerCounts(ledger.name, waiting, due + abandoned, working, late_waiting + abandoned)
