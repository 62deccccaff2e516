"""Drain one pixel's waiting conversions: expire, claim with an attempt token, send, record, fenced.

Exactly once, step by step:
1. claim: rows become `sending` with a fresh attempt token and a lease, and an "in flight" request row is
   written, all committed BEFORE the HTTP call (the intent);
2. send: the same ids every time (OpenAI deduplicates on pixel + type + custom name + id);
3. record: outcomes are written only where the row still holds our token, in one transaction.
A worker that dies between 1 and 3 leaves `sending` rows; once the lease is over the next run (kicked by
the sweeper) claims them again and re-sends the same ids, so OpenAI still counts each event once and the
ledger still holds one row per key.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, update

from connector.context import Context
from connector.conversions.outcomes import IN_FLIGHT, journal, record_outcomes, write_requests
from connector.conversions.sender import ConversionsClient, RequestRecord
from connector.conversions.setup import api_key, pixel_by_id, retry_policy, sender_settings
from connector.events.model import MAX_AGE_MS, ConversionEvent, validate_event
from connector.queue.ledgers import CONVERSIONS
from connector.store.models import (
    Conversion,
    ConversionRequest,
    ConversionStatus,
)
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

EXPIRY_MARGIN_MS = 5 * 60 * 1000
"""Events this close to the 7-day limit are expired rather than sent (milliseconds)."""

LOST = (
    "no response recorded: the worker stopped while this request was in flight; its events were claimed again"
)


@dataclass
class DrainResult:
    """What one run did, and when the next run should start (seconds from now, None: nothing waits)."""

    counts: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    follow_up_s: float | None = None


def drain(ctx: Context, pixel_id: str) -> DrainResult:
    """Send every ready conversion of `pixel_id` in batches of `batch_max_events`."""
    conf = ctx.settings.conversions
    key = api_key(conf, pixel_by_id(conf, pixel_id))
    result = DrainResult()
    client: ConversionsClient | None = None
    try:
        while True:
            expired = expire_waiting(ctx, pixel_id)
            if expired:
                result.counts["expired"] += expired
            token, rows = claim(ctx, pixel_id, conf.batch_max_events, dry_run=key is None)
            if not rows:
                break
            if key is None:
                result.counts["would_send"] += _record_dry_run(ctx, token, rows)
                continue
            if client is None:
                client = ConversionsClient(sender_settings(conf, key), policy=retry_policy(conf))
            events = [ConversionEvent.from_json(row.payload) for row in rows]
            attempt = max(row.attempts for row in rows)
            outcome = client.send_batch(pixel_id, events, attempt=attempt)
            record_outcomes(ctx, pixel_id, token, rows, outcome)
            result.requests += outcome.requests_used
            result.counts.update(o.status for o in outcome.outcomes)
            delays = [o.retry_after_s or 0.0 for o in outcome.with_status("retry")]
            if delays:  # the endpoint is unwell: leave the rest for the retry run
                result.follow_up_s = max(delays)
                return result
    finally:
        if client is not None:
            client.close()
    result.follow_up_s = seconds_until_next(ctx, pixel_id)
    return result


def expire_waiting(ctx: Context, pixel_id: str, now_ms: int | None = None) -> int:
    """Waiting events that left the 7-day window (minus a margin) become `expired` and are not sent again."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    cutoff = now_ms - MAX_AGE_MS + EXPIRY_MARGIN_MS
    now = utcnow()
    with ctx.sessions.begin() as session:
        rows = CONVERSIONS.ready_rows(session, *expiring(pixel_id, cutoff), now=now)
        lines = []
        for tried in (False, True):
            group = [r for r in rows if (r.attempts > 0) == tried]
            if not group:
                continue
            # An earlier attempt without a success answer (timeout, 5xx, lost worker) may still have reached
            # OpenAI, which then counted it once; the ledger must not claim "never sent" for those.
            message = (
                "older than the 7-day window while waiting; not confirmed by OpenAI after earlier attempts"
                if tried
                else "older than the 7-day window while waiting; never sent"
            )
            session.execute(
                update(Conversion)
                .where(Conversion.id.in_([r.id for r in group]), CONVERSIONS.ready(now))
                .values(
                    status=ConversionStatus.EXPIRED,
                    reason="expired",
                    last_error=message,
                    attempt_token=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            lines += [(r.event_id, f"conversion expired: {message}") for r in group]
        journal(session, lines)
    if rows:
        log.warning("pixel=%s expired %d waiting conversions", pixel_id, len(rows))
    return len(rows)


def expiring(
    pixel_id: str, cutoff_ms: int
) -> tuple[tuple[Any, ...], ColumnElement[bool], ColumnElement[bool]]:
    """The columns and conditions of `expire_waiting`'s look-up (for CONVERSIONS.ready_rows)."""
    columns = (Conversion.id, Conversion.event_id, Conversion.attempts)
    return columns, Conversion.pixel_id == pixel_id, Conversion.timestamp_ms < cutoff_ms


def claim(ctx: Context, pixel_id: str, limit: int, dry_run: bool = False) -> tuple[str, list[Conversion]]:
    """Take up to `limit` ready rows with a new attempt token; the intent is committed before any send."""
    with ctx.sessions.begin() as session:
        claimed = CONVERSIONS.claim(
            session, ctx.settings.conversions.lease_seconds, Conversion.pixel_id == pixel_id, limit=limit
        )
        if not claimed.ids:
            return claimed.token, []
        rows = list(
            session.scalars(select(Conversion).where(Conversion.id.in_(claimed.ids)).order_by(Conversion.id))
        )
        if claimed.stale_tokens:
            session.execute(
                update(ConversionRequest)
                .where(
                    ConversionRequest.attempt_token.in_(claimed.stale_tokens),
                    ConversionRequest.error == IN_FLIGHT,
                )
                .values(error=LOST)
            )
            log.warning(
                "pixel=%s reclaimed conversions from %d lost attempt(s)", pixel_id, len(claimed.stale_tokens)
            )
        if rows and not dry_run:
            write_requests(
                session,
                pixel_id,
                claimed.token,
                rows,
                [_in_flight(ctx, pixel_id, [r.event_id for r in rows])],
            )
    return claimed.token, rows


def _in_flight(ctx: Context, pixel_id: str, event_ids: list[str]) -> RequestRecord:
    conf = ctx.settings.conversions
    return RequestRecord(
        pixel_id=pixel_id,
        url=f"{conf.endpoint}?pid={pixel_id}",
        event_ids=tuple(event_ids),
        validate_only=conf.validate_only,
        started_at_ms=int(time.time() * 1000),
        elapsed_ms=0.0,
        error=IN_FLIGHT,
    )


def _record_dry_run(ctx: Context, token: str, rows: list[Conversion]) -> int:
    """No key (any more): validate and record `would_send`, as at build time."""
    now_ms = int(time.time() * 1000)
    with ctx.sessions.begin() as session:
        for row in rows:
            errors = validate_event(ConversionEvent.from_json(row.payload), now_ms)
            session.execute(
                update(Conversion)
                .where(Conversion.id == row.id, Conversion.attempt_token == token)
                .values(
                    status=ConversionStatus.FAILED if errors else ConversionStatus.WOULD_SEND,
                    reason="invalid" if errors else "dry_run",
                    last_error=("invalid: " + "; ".join(errors))
                    if errors
                    else "no Conversions API key: dry run",
                    lease_until=None,
                    updated_at=utcnow(),
                )
            )
        journal(
            session, [(row.event_id, "conversion not sent: no Conversions API key (dry run)") for row in rows]
        )
    return len(rows)


def seconds_until_next(ctx: Context, pixel_id: str) -> float | None:
    """When the earliest waiting row of `pixel_id` becomes due; None when nothing waits."""
    with ctx.sessions() as session:
        return CONVERSIONS.seconds_until_ready(session, Conversion.pixel_id == pixel_id)


def due_pixels(ctx: Context, grace_seconds: float) -> list[str]:
    """Pixels with conversions that should have gone out by now (for the sweeper)."""
    with ctx.sessions() as session:
        return list(session.scalars(overdue_pixels(utcnow(), grace_seconds)))


def overdue_pixels(now: datetime, grace_seconds: float) -> Select[str]:
    """The pixels of `due_pixels` (read from the (status, ...) index: only live rows)."""
    return select(Conversion.pixel_id).where(CONVERSIONS.overdue(now, grace_seconds)).distinct()
