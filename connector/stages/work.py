"""The stage-change job: claim pending changes, resolve them in batches, record conversions, fenced.

Exactly once: changes are claimed with an attempt token (committed before any CRM call); each outcome is
written only where the row still holds the token, in the same transaction as its conversion row, whose
unique key (pixel, type, custom name, deterministic id) absorbs any second copy of the same change.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import or_, select, update

from connector import context
from connector.config import Settings
from connector.context import Context
from connector.conversions.ledger import insert_conversion
from connector.crm.configured import crm_adapter, crm_mappings
from connector.errors import ConnectorError, PermanentError, RetryableError
from connector.journal import record
from connector.stages.resolve import Resolution, resolve
from connector.store.models import ConversionStatus, StageChange, StageChangeStatus
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH = 200
"""Stage changes resolved per round (one CRM read per object per round)."""

LEASE_SECONDS = 300
"""A claim older than this belongs to a worker that is gone; the changes are claimed again."""

NEXT_KEY = "connector:stages:next:{queue}"
"""Redis key holding the scheduled resolver job's id; while it exists, new changes join that run."""


def enqueue_stage_resolution(ctx: Context, delay: float = 0.0, force: bool = False) -> bool:
    """Schedule `resolve_stage_changes` unless a run is already scheduled; False when Redis is down."""
    job_id = f"stages-{secrets.token_hex(4)}"
    key = NEXT_KEY.format(queue=ctx.settings.jobs.queue)
    try:
        if not ctx.redis.set(key, job_id, nx=not force, ex=int(delay + LEASE_SECONDS) + 1):
            return False
        options = {
            "job_id": job_id,
            "job_timeout": ctx.settings.jobs.job_timeout_seconds,
            "result_ttl": 3600,
            "failure_ttl": 7 * 86400,
            "description": "resolve CRM stage changes",
        }
        from connector.jobs import schedule

        schedule(ctx, resolve_stage_changes, delay=delay, **options)
    except RedisError as exc:
        log.warning("queue unavailable, stage changes left for the sweeper: %s", exc)
        return False
    return True


def resolve_stage_changes() -> dict[str, int]:
    """The job: resolve every ready stage change, batch by batch, then send the conversions."""
    from rq import get_current_job

    from connector.jobs import enqueue_conversions_send

    ctx = context.current()
    job = get_current_job()
    key = NEXT_KEY.format(queue=ctx.settings.jobs.queue)
    if job is not None and ctx.redis.get(key) == job.id.encode():
        ctx.redis.delete(key)  # changes stored from now on schedule a new run
    counts: dict[str, int] = defaultdict(int)
    pixels: set[str] = set()
    retry_in: float | None = None
    while True:
        token, rows = claim(ctx, BATCH)
        if not rows:
            break
        for outcome, pixel, delay in run_batch(ctx, token, rows):
            counts[outcome] += 1
            if pixel:
                pixels.add(pixel)
            if delay is not None:
                retry_in = delay if retry_in is None else min(retry_in, delay)
        if retry_in is not None:
            break
    for pixel_id in pixels:
        enqueue_conversions_send(ctx, pixel_id)
    if retry_in is not None:
        enqueue_stage_resolution(ctx, delay=retry_in)
    log.info("stage changes resolved: %s", dict(counts))
    return dict(counts)


def _ready(now):  # type: ignore[no-untyped-def]
    return or_(
        (StageChange.status == StageChangeStatus.PENDING)
        & (StageChange.next_attempt_at.is_(None) | (StageChange.next_attempt_at <= now)),
        (StageChange.status == StageChangeStatus.RESOLVING) & (StageChange.lease_until < now),
    )


def claim(ctx: Context, limit: int) -> tuple[str, list[StageChange]]:
    """Take up to `limit` ready changes with a fresh attempt token, committed before any CRM call."""
    token, now = secrets.token_hex(16), utcnow()
    with ctx.sessions.begin() as session:
        ids = list(
            session.scalars(select(StageChange.id).where(_ready(now)).order_by(StageChange.id).limit(limit))
        )
        if not ids:
            return token, []
        session.execute(
            update(StageChange)
            .where(StageChange.id.in_(ids), _ready(now))
            .values(
                status=StageChangeStatus.RESOLVING,
                attempt_token=token,
                attempts=StageChange.attempts + 1,
                lease_until=now + timedelta(seconds=LEASE_SECONDS),
            )
        )
        rows = list(session.scalars(select(StageChange).where(StageChange.attempt_token == token)))
        session.expunge_all()
    return token, rows


def run_batch(
    ctx: Context, token: str, rows: list[StageChange]
) -> list[tuple[str, str | None, float | None]]:
    """Resolve one claimed batch, object by object; (outcome, pixel to send, retry delay) per group."""
    settings = ctx.settings
    groups: dict[tuple[str, str], list[StageChange]] = defaultdict(list)
    for row in rows:
        groups[(row.crm, row.object_type)].append(row)
    outcomes: list[tuple[str, str | None, float | None]] = []
    for (crm, obj), group in groups.items():
        if settings.crm.provider != crm:
            message = f"crm.provider is {settings.crm.provider!r}: {crm} changes cannot be read"
            resolutions = [Resolution(r.id, StageChangeStatus.FAILED, message) for r in group]
        else:
            try:
                adapter = crm_adapter(settings)
                labels = _labels(settings, adapter, crm, obj, group)
                with ctx.sessions() as session:
                    resolutions = resolve(
                        session,
                        settings,
                        adapter,
                        crm_mappings(settings),
                        group,
                        int(time.time() * 1000),
                        labels,
                    )
            except RetryableError as exc:
                delay = exc.delay if exc.delay is not None else 30.0
                _release(ctx, token, group, f"{type(exc).__name__}: {exc}", delay)
                outcomes += [("retry", None, delay)] * len(group)
                continue
            except (PermanentError, ConnectorError) as exc:
                resolutions = [
                    Resolution(r.id, StageChangeStatus.FAILED, f"{type(exc).__name__}: {exc}") for r in group
                ]
        outcomes += _record(ctx, token, group, resolutions)
    return outcomes


def _labels(
    settings: Settings, adapter: Any, crm: str, obj: str, rows: list[StageChange]
) -> dict[str, dict[str, str]]:
    """HubSpot stage ids -> labels, so rules may name stages as sales ops sees them (cached per process;
    a stage id the cache does not know reads them again)."""
    if crm != "hubspot":
        return {}
    from connector.crm.hubspot_labels import stage_labels

    return stage_labels(adapter, obj, settings.stages.labels_ttl_seconds, [r.stage for r in rows])


def _release(ctx: Context, token: str, rows: list[StageChange], error: str, delay: float) -> None:
    with ctx.sessions.begin() as session:
        session.execute(
            update(StageChange)
            .where(StageChange.id.in_([r.id for r in rows]), StageChange.attempt_token == token)
            .values(
                status=StageChangeStatus.PENDING,
                lease_until=None,
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                last_error=error[:4000],
            )
        )
    log.warning("stage changes %s: retry in %ss: %s", [r.id for r in rows], delay, error)


def _record(
    ctx: Context, token: str, rows: list[StageChange], resolutions: list[Resolution]
) -> list[tuple[str, str | None, float | None]]:
    by_id = {r.id: r for r in rows}
    outcomes: list[tuple[str, str | None, float | None]] = []
    with ctx.sessions.begin() as session:
        for res in resolutions:
            row = by_id[res.row_id]
            status, message, conversion_id, pixel = res.status, res.message, None, None
            if res.conversion is not None:
                conversion_id = insert_conversion(session, res.conversion)
                if conversion_id is None:
                    status = StageChangeStatus.ALREADY
                    message = (
                        f"{res.rule}: event {res.event_id} already in the ledger (fire policy); not again"
                    )
                elif res.conversion["status"] == ConversionStatus.PENDING:
                    pixel = res.conversion["pixel_id"]
            fenced = session.execute(
                update(StageChange)
                .where(StageChange.id == row.id, StageChange.attempt_token == token)
                .values(
                    status=status,
                    rule=res.rule,
                    event_id=res.event_id,
                    attributed_event_id=res.attributed_event_id,
                    conversion_id=conversion_id,
                    lease_until=None,
                    last_error=message[:4000],
                )
            ).rowcount
            if not fenced:  # another worker took the change over after our lease ran out
                session.rollback()
                log.warning("stage change %s lease lost; result discarded", row.id)
                return []
            what = f"{row.crm} {row.object_type} {row.record_id} entered {row.stage!r}"
            details = {
                "stage_change_id": row.id,
                "status": status,
                "notes": res.notes,
                "conversion_id": conversion_id,
            }
            for event_id in dict.fromkeys(e for e in (res.event_id, res.attributed_event_id) if e):
                record(
                    session,
                    "stage",
                    f"{what}: {status}: {message}",
                    receipt_id=row.receipt_id,
                    event_id=event_id,
                    details=details,
                )
            if not res.event_id and not res.attributed_event_id:
                record(
                    session,
                    "stage",
                    f"{what}: {status}: {message}",
                    receipt_id=row.receipt_id,
                    details=details,
                )
            log.info("stage change %s %s: %s %s", row.id, what, status, message)
            outcomes.append((status, pixel, None))
    return outcomes


def sweep_stage_changes(ctx: Context) -> int:
    """Kick the resolver when changes wait past their time (Redis was down, a worker died), and make
    sure a poll is scheduled when polling is on."""
    from connector.stages.poll import schedule_poll

    polled = int(schedule_poll(ctx, 0))
    now = utcnow()
    grace = now - timedelta(seconds=ctx.settings.jobs.sweep_grace_seconds)
    with ctx.sessions() as session:
        late = session.scalar(
            select(StageChange.id)
            .where(
                or_(
                    (StageChange.status == StageChangeStatus.PENDING)
                    & or_(
                        StageChange.next_attempt_at.is_(None) & (StageChange.created_at < grace),
                        StageChange.next_attempt_at < grace,
                    ),
                    (StageChange.status == StageChangeStatus.RESOLVING) & (StageChange.lease_until < now),
                )
            )
            .limit(1)
        )
    if late is None:
        return polled
    from connector.sweeper import _job_is_live

    scheduled = ctx.redis.get(NEXT_KEY.format(queue=ctx.settings.jobs.queue))
    if scheduled and _job_is_live(ctx, scheduled.decode()):
        return polled
    return polled + int(enqueue_stage_resolution(ctx, force=True))
