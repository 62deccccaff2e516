"""Record what a send did: each event's outcome (fenced on the attempt token), every request, the journal."""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.orm import Session

from connector.context import Context
from connector.conversions.sender import BatchOutcome, EventOutcome, RequestRecord
from connector.store.models import (
    Conversion,
    ConversionRequest,
    ConversionRequestEvent,
    ConversionStatus,
    JournalEntry,
)
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

IN_FLIGHT = "in flight: no response recorded yet"
"""The error text of a request row written before the send; replaced by the real exchange afterwards."""


def record_outcomes(
    ctx: Context, pixel_id: str, token: str, rows: list[Conversion], outcome: BatchOutcome
) -> None:
    """Write each event's outcome where the row still holds `token`, and every request made."""
    now = utcnow()
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)  # same outcome -> one UPDATE
    for row, result in zip(rows, outcome.outcomes, strict=True):
        groups[_outcome_key(result)].append(row.id)
    with ctx.sessions.begin() as session:
        session.execute(
            delete(ConversionRequestEvent).where(
                ConversionRequestEvent.request_id.in_(
                    select(ConversionRequest.id).where(
                        ConversionRequest.attempt_token == token, ConversionRequest.error == IN_FLIGHT
                    )
                )
            )
        )
        session.execute(
            delete(ConversionRequest).where(
                ConversionRequest.attempt_token == token, ConversionRequest.error == IN_FLIGHT
            )
        )
        write_requests(session, pixel_id, token, rows, outcome.requests)
        fenced = 0
        for (status, reason, message, delay, response), ids in groups.items():
            values: dict[str, Any] = {
                "status": status,
                "reason": reason,
                "last_error": message,
                "lease_until": None,
                "updated_at": now,
                "response": json.loads(response),
            }
            if status == ConversionStatus.PENDING:
                values["next_attempt_at"] = now + timedelta(seconds=delay or 0)
            if status in (ConversionStatus.SENT, ConversionStatus.VALIDATED):
                values["sent_at"] = now
            fenced += cast(
                CursorResult[Any],
                session.execute(
                    update(Conversion)
                    .where(Conversion.id.in_(ids), Conversion.attempt_token == token)
                    .values(**values)
                ),
            ).rowcount
        if fenced < len(rows):
            log.warning(
                "pixel=%s attempt %s lost %d of %d rows to a newer attempt; their outcome is discarded",
                pixel_id,
                token[:8],
                len(rows) - fenced,
                len(rows),
            )
        journal(
            session,
            [
                (row.event_id, _journal_line(result))
                for row, result in zip(rows, outcome.outcomes, strict=True)
            ],
        )
    log.info(
        "pixel=%s attempt %s recorded %s",
        pixel_id,
        token[:8],
        dict(Counter(o.status for o in outcome.outcomes)),
    )


def _outcome_key(result: EventOutcome) -> tuple[Any, ...]:
    status = ConversionStatus.PENDING if result.status == "retry" else result.status
    reason = {
        "sent": None,
        "validated": None,
        "retry": "retry",
        "expired": "expired",
    }.get(result.status, "rejected")
    if result.status == "failed" and result.reason.startswith("invalid"):
        reason = "invalid"
    elif result.status == "failed" and result.reason.startswith("authentication"):
        reason = "auth"
    response = None
    if result.response is not None:
        response = {"status_code": result.response.status_code, "body": result.response.body[:1000]}
        if result.response.error:
            response["error"] = result.response.error[:500]
    message = None if result.status in ("sent", "validated") else result.reason[:4000]
    return (status, reason, message, result.retry_after_s, json.dumps(response))


def _journal_line(result: EventOutcome) -> str:
    record = result.response
    via = f" (HTTP {record.status_code}, {record.elapsed_ms:.0f} ms)" if record and record.status_code else ""
    if result.status in ("sent", "validated"):
        return f"conversion {result.status}{via}"
    if result.status == "retry":
        return f"conversion send deferred {result.retry_after_s or 0:.1f}s: {result.reason[:300]}"
    return f"conversion {result.status}: {result.reason[:300]}"


def write_requests(
    session: Session, pixel_id: str, token: str, rows: list[Conversion], records: list[RequestRecord]
) -> None:
    by_event: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_event[row.event_id].append(row.id)
    for rec in records:
        request_id = session.execute(
            insert(ConversionRequest)
            .values(
                pixel_id=pixel_id,
                url=rec.url[:2048],
                attempt_token=token,
                event_ids=list(rec.event_ids),
                event_count=len(rec.event_ids),
                validate_only=rec.validate_only,
                status_code=rec.status_code,
                body=rec.body or None,
                error=rec.error,
                elapsed_ms=round(rec.elapsed_ms),
                started_at=datetime.fromtimestamp(rec.started_at_ms / 1000, tz=UTC),
            )
            .returning(ConversionRequest.id)
        ).scalar_one()
        links = [
            {"request_id": request_id, "conversion_id": cid}
            for event_id in dict.fromkeys(rec.event_ids)
            for cid in by_event.get(event_id, ())
        ]
        if links:
            session.execute(insert(ConversionRequestEvent), links)


def journal(session: Session, lines: list[tuple[str, str]]) -> None:
    if lines:
        now = utcnow()
        session.execute(
            insert(JournalEntry),
            [{"at": now, "event_id": e, "kind": "conversion", "message": m, "details": {}} for e, m in lines],
        )
