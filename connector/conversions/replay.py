"""`connector replay --conversions`: send failed (or dry-run) conversions again, with the same ids."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from connector.context import Context
from connector.journal import record
from connector.store.models import Conversion, ConversionStatus
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

REPLAYABLE = (ConversionStatus.FAILED, ConversionStatus.WOULD_SEND, ConversionStatus.VALIDATED)
"""Statuses an operator may send again. Sent, expired and skipped ones never are."""


def replay_conversions(
    ctx: Context, statuses: tuple[str, ...] = (ConversionStatus.FAILED,), pixel_id: str | None = None
) -> int:
    """Make matching conversions pending again (fresh attempts, same payload and id) and kick senders."""
    from connector.jobs import enqueue_conversions_send

    wanted = [s for s in statuses if s in REPLAYABLE]
    if not wanted:
        raise ValueError(f"replayable statuses are {', '.join(REPLAYABLE)}")
    with ctx.sessions.begin() as session:
        query = select(Conversion.id, Conversion.event_id, Conversion.pixel_id, Conversion.status).where(
            Conversion.status.in_(wanted), Conversion.timestamp_ms.is_not(None), Conversion.pixel_id != ""
        )
        if pixel_id:
            query = query.where(Conversion.pixel_id == pixel_id)
        rows = session.execute(query).all()
        for row in rows:
            # Fenced on the status we read, so a row that changed meanwhile is left alone.
            session.execute(
                update(Conversion)
                .where(Conversion.id == row.id, Conversion.status == row.status)
                .values(
                    status=ConversionStatus.PENDING,
                    reason=None,
                    attempts=0,
                    attempt_token=None,
                    next_attempt_at=None,
                    lease_until=None,
                    updated_at=utcnow(),
                )
            )
            record(
                session,
                "replay",
                f"conversion ({row.status}) queued again by `connector replay`",
                event_id=row.event_id,
            )
    for pixel in sorted({row.pixel_id for row in rows}):
        enqueue_conversions_send(ctx, pixel, delay=0)
    log.info("replayed %d conversions (%s)", len(rows), ", ".join(wanted))
    return len(rows)
