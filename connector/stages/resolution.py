"""Resolving stage changes in batches: claim, read the CRM, record each outcome with its conversion, fenced.

Exactly once: changes are claimed with an attempt token (committed before any CRM call); each outcome is
written only where the row still holds the token, in the same transaction as its conversion row, whose
unique key (pixel, type, custom name, deterministic id) absorbs any second copy of the same change. The
job that runs these rounds is `connector.jobs.stages`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from connector.config import Settings
from connector.context import Context
from connector.conversions.ledger import insert_conversion
from connector.errors import ConnectorError, PermanentError, RetryableError
from connector.journal import record
from connector.queue.defaults import job_lease_seconds
from connector.queue.ledgers import STAGE_CHANGES
from connector.stages.deals import learned_from, queue_deal_attribution
from connector.stages.resolve import Resolution, resolve
from connector.store.models import ConversionStatus, StageChange, StageChangeStatus

log = logging.getLogger(__name__)

BATCH = 200
"""Stage changes resolved per round (one CRM read per object per round)."""

_NOT_LEARNED = (StageChangeStatus.DELETED, StageChangeStatus.FAILED)
"""Outcomes that say nothing about the record existing (deleted, or never read)."""

Outcome = tuple[str, str | None, float | None]
"""(status, pixel whose sender should run, retry delay in seconds) of one change."""


def claim(ctx: Context, limit: int) -> tuple[str, list[StageChange]]:
    """Take up to `limit` ready changes with a fresh attempt token, committed before any CRM call."""
    with ctx.sessions.begin() as session:
        claimed = STAGE_CHANGES.claim(session, job_lease_seconds(ctx.settings), limit=limit)
        if not claimed.ids:
            return claimed.token, []
        rows = list(
            session.scalars(
                select(StageChange).where(StageChange.id.in_(claimed.ids)).order_by(StageChange.id)
            )
        )
        session.expunge_all()
    return claimed.token, rows


def seconds_until_next_change(ctx: Context) -> float | None:
    """When the next change becomes ready (0: now; None: none waits)."""
    with ctx.sessions() as session:
        return STAGE_CHANGES.seconds_until_ready(session)


def overdue(ctx: Context) -> bool:
    """Is any change waiting past its time with nobody holding it (for the sweeper)?"""
    with ctx.sessions() as session:
        return STAGE_CHANGES.has_overdue(session, ctx.settings.jobs.sweep_grace_seconds)


def run_batch(ctx: Context, token: str, rows: list[StageChange]) -> list[Outcome]:
    """Resolve one claimed batch, object by object; (outcome, pixel to send, retry delay) per group."""
    settings = ctx.settings
    groups: dict[tuple[str, str], list[StageChange]] = defaultdict(list)
    for row in rows:
        groups[(row.crm, row.object_type)].append(row)
    outcomes: list[Outcome] = []
    for (crm, obj), group in groups.items():
        if settings.crm.provider != crm:
            message = f"crm.provider is {settings.crm.provider!r}: {crm} changes cannot be read"
            resolutions = [Resolution(r.id, StageChangeStatus.FAILED, message) for r in group]
        else:
            try:
                adapter = ctx.crm
                labels = _labels(settings, adapter, crm, obj, group)
                with ctx.sessions() as session:
                    resolutions = resolve(
                        session,
                        settings,
                        adapter,
                        ctx.mappings,
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
    # Imported here: it loads the HubSpot client library (0.2 s), which Salesforce sites never need.
    from connector.crm.hubspot_labels import stage_labels

    return stage_labels(adapter, obj, settings.stages.labels_ttl_seconds, [r.stage for r in rows])


def _release(ctx: Context, token: str, rows: list[StageChange], error: str, delay: float) -> None:
    with ctx.sessions.begin() as session:
        STAGE_CHANGES.release(session, token, [r.id for r in rows], delay, last_error=error[:4000])
    log.warning("stage changes %s: retry in %ss: %s", [r.id for r in rows], delay, error)


def _record(
    ctx: Context, token: str, rows: list[StageChange], resolutions: list[Resolution]
) -> list[Outcome]:
    by_id = {r.id: r for r in rows}
    outcomes: list[Outcome] = []
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
            fenced = STAGE_CHANGES.finish(
                session,
                token,
                [row.id],
                status=status,
                rule=res.rule,
                event_id=res.event_id,
                attributed_event_id=res.attributed_event_id,
                conversion_id=conversion_id,
                amount=res.amount,
                currency=res.currency,
                last_error=message[:4000],
            )
            if not fenced:  # another worker took the change over after our lease ran out
                session.rollback()
                log.warning("stage change %s lease lost; result discarded", row.id)
                return []
            learned = learned_from(row, res.attributed_event_id) if status not in _NOT_LEARNED else None
            if learned is not None:  # the record's attribution is written once, by the deal flush
                queue_deal_attribution(session, ctx.mappings, learned)
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
