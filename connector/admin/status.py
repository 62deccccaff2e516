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


LIVE_ROWS_READ = 5000
"""Most waiting and in-progress rows one ledger's due and overdue counts read (a backlog beyond this is
shown as "at least")."""


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
    exact: bool = True
    """False: more live rows than LIVE_ROWS_READ, so `due` and `overdue` are lower bounds."""


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
    statuses = (*ledger.waiting, ledger.working)

    def count(status: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(m).where(status)) or 0)

    waiting = count(m.status.in_(ledger.waiting))
    working = count(m.status == ledger.working)
    if not waiting and not working:
        return LedgerCounts(ledger.name, 0, 0, 0, 0)
    # The live rows themselves, read along a (status, ...) index (ORDER BY status keeps the planner on it
    # even when table statistics say status is not selective); due and overdue are counted here.
    created = getattr(m, ledger.created)
    rows = session.execute(
        select(m.status, m.next_attempt_at, created, m.lease_until)
        .where(m.status.in_(statuses))
        .order_by(m.status)
        .limit(LIVE_ROWS_READ)
    ).all()
    late = now - timedelta(seconds=grace)
    due = overdue = 0
    for status, next_at, first, lease_until in rows:
        if status == ledger.working:
            abandoned = lease_until is not None and as_utc(lease_until) < now
            due += abandoned
            overdue += abandoned
            continue
        next_at = as_utc(next_at)
        due += next_at is None or next_at <= now
        overdue += (as_utc(first) < late) if next_at is None else next_at < late
    return LedgerCounts(ledger.name, waiting, due, working, overdue, exact=len(rows) < LIVE_ROWS_READ)
