"""Operator actions on the ledger: replay dead letters, purge raw bodies past retention."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from connector.context import Context
from connector.jobs import enqueue_receipt
from connector.journal import record
from connector.store.models import Receipt, ReceiptStatus
from connector.timeutil import utcnow

log = logging.getLogger(__name__)


def replay_failed(ctx: Context, receipt_ids: list[int], source: str | None) -> int:
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
            record(session, "replay", "queued again by `connector replay`", receipt=receipt)
    for receipt in receipts:
        enqueue_receipt(ctx, receipt.id, job_id=f"receipt-{receipt.id}-replay-{int(utcnow().timestamp())}")
    return len(receipts)


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
        count = cast(
            CursorResult[Any],
            session.execute(update(Receipt).where(condition).values(body=None, body_purged_at=utcnow())),
        ).rowcount
    log.info("purged %s raw bodies older than %s days", count, older_than_days)
    return count
