"""Operator actions on the ledger: replay dead letters (receipts, CRM writes, conversions, deal
attributions), purge raw bodies."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from connector.context import Context
from connector.jobs.conversions import enqueue_conversions_send
from connector.jobs.crm import enqueue_crm_flush
from connector.jobs.deals import enqueue_deal_flush
from connector.jobs.receipts import enqueue_receipt
from connector.journal import record
from connector.queue.leased import rowcount
from connector.store.models import (
    Conversion,
    ConversionStatus,
    CrmWrite,
    DealAttribution,
    DealAttributionStatus,
    Receipt,
    ReceiptStatus,
    WriteStatus,
)
from connector.timeutil import utcnow

log = logging.getLogger(__name__)


FRESH_ATTEMPTS = {"attempts": 0, "attempt_token": None, "next_attempt_at": None, "lease_until": None}
"""What a replayed row of any leased ledger starts again with: no attempts, no lease, due now."""


def replay_failed(
    ctx: Context, receipt_ids: list[int], source: str | None, by: str = "`connector replay`"
) -> int:
    """Give failed receipts a fresh attempt budget and queue them; returns how many."""
    with ctx.sessions.begin() as session:
        query = select(Receipt).where(Receipt.status == ReceiptStatus.FAILED)
        if receipt_ids:
            query = query.where(Receipt.id.in_(receipt_ids))
        if source:
            query = query.where(Receipt.source == source)
        receipts = list(session.scalars(query))
        for receipt in receipts:
            receipt.status = ReceiptStatus.RECEIVED
            receipt.attempts = 0
            receipt.job_id = None
            record(session, "replay", f"queued again by {by}", receipt=receipt)
    for receipt in receipts:
        enqueue_receipt(ctx, receipt.id, job_id=f"receipt-{receipt.id}-replay-{int(utcnow().timestamp())}")
    return len(receipts)


REPLAYABLE = (ConversionStatus.FAILED, ConversionStatus.WOULD_SEND, ConversionStatus.VALIDATED)
"""Statuses an operator may send again. Sent, expired and skipped ones never are."""


def replay_conversions(
    ctx: Context,
    statuses: tuple[str, ...] = (ConversionStatus.FAILED,),
    pixel_id: str | None = None,
    ids: list[int] | None = None,
    by: str = "`connector replay`",
) -> int:
    """Make matching conversions (of `pixel_id`, of `ids`, or all) pending again (fresh attempts, same
    payload and id) and kick senders."""
    wanted = [s for s in statuses if s in REPLAYABLE]
    if not wanted:
        raise ValueError(f"replayable statuses are {', '.join(REPLAYABLE)}")
    with ctx.sessions.begin() as session:
        query = select(Conversion.id, Conversion.event_id, Conversion.pixel_id, Conversion.status).where(
            Conversion.status.in_(wanted), Conversion.timestamp_ms.is_not(None), Conversion.pixel_id != ""
        )
        if pixel_id:
            query = query.where(Conversion.pixel_id == pixel_id)
        if ids is not None:
            query = query.where(Conversion.id.in_(ids))
        rows = session.execute(query).all()
        for row in rows:
            # Fenced on the status we read, so a row that changed meanwhile is left alone.
            session.execute(
                update(Conversion)
                .where(Conversion.id == row.id, Conversion.status == row.status)
                .values(
                    status=ConversionStatus.PENDING,
                    reason=None,
                    **FRESH_ATTEMPTS,
                    updated_at=utcnow(),
                )
            )
            record(
                session,
                "replay",
                f"conversion ({row.status}) queued again by {by}",
                event_id=row.event_id,
            )
    for pixel in sorted({row.pixel_id for row in rows}):
        enqueue_conversions_send(ctx, pixel, delay=0)
    log.info("replayed %d conversions (%s)", len(rows), ", ".join(wanted))
    return len(rows)


def replay_crm_writes(ctx: Context, ids: list[int], by: str = "`connector replay`") -> int:
    """Make failed CRM writes pending again (fresh attempts) and queue a flush; returns how many."""
    with ctx.sessions.begin() as session:
        rows = session.execute(
            select(CrmWrite.id, CrmWrite.event_id, CrmWrite.crm, CrmWrite.object_type).where(
                CrmWrite.id.in_(ids), CrmWrite.status == WriteStatus.FAILED
            )
        ).all()
        for row in rows:
            session.execute(
                update(CrmWrite)
                .where(CrmWrite.id == row.id, CrmWrite.status == WriteStatus.FAILED)
                .values(
                    status=WriteStatus.PENDING,
                    outcome=None,
                    **FRESH_ATTEMPTS,
                )
            )
            record(
                session,
                "replay",
                f"{row.crm} {row.object_type} write queued again by {by}",
                event_id=row.event_id,
                details={"crm_write_id": row.id},
            )
    if rows:
        enqueue_crm_flush(ctx, "replay")
    log.info("replayed %d crm writes", len(rows))
    return len(rows)


def replay_deal_attributions(
    ctx: Context, ids: list[int] | None = None, by: str = "`connector replay`"
) -> int:
    """Make failed deal attributions (of `ids`, or all) pending again (fresh attempts) and queue a deal
    flush; returns how many."""
    failed = DealAttributionStatus.FAILED
    with ctx.sessions.begin() as session:
        query = select(
            DealAttribution.id,
            DealAttribution.crm,
            DealAttribution.object_type,
            DealAttribution.record_id,
            DealAttribution.event_id,
            DealAttribution.receipt_id,
        ).where(DealAttribution.status == failed)
        if ids is not None:
            query = query.where(DealAttribution.id.in_(ids))
        rows = session.execute(query).all()
        for row in rows:
            session.execute(
                update(DealAttribution)
                .where(DealAttribution.id == row.id, DealAttribution.status == failed)
                .values(
                    status=DealAttributionStatus.PENDING,
                    last_error=None,
                    **FRESH_ATTEMPTS,
                    updated_at=utcnow(),
                )
            )
            record(
                session,
                "replay",
                f"{row.crm} {row.object_type} {row.record_id} attribution queued again by {by}",
                receipt_id=row.receipt_id,
                event_id=row.event_id,
                details={"deal_attribution_id": row.id},
            )
    if rows:
        enqueue_deal_flush(ctx, "replay")
    log.info("replayed %d deal attributions", len(rows))
    return len(rows)


def purge_bodies(ctx: Context, older_than_days: int, dry_run: bool = False) -> int:
    """Erase raw bodies of processed receipts received more than `older_than_days` ago."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    condition = (
        (Receipt.status == ReceiptStatus.PROCESSED)
        & (Receipt.received_at < cutoff)
        & Receipt.body.is_not(None)
    )
    with ctx.sessions.begin() as session:
        if dry_run:
            return len(session.scalars(select(Receipt.id).where(condition)).all())
        count = rowcount(
            session.execute(update(Receipt).where(condition).values(body=None, body_purged_at=utcnow()))
        )
    log.info("purged %s raw bodies older than %s days", count, older_than_days)
    return count
