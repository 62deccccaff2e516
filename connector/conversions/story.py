"""The conversions part of `connector events show`: each conversion, its payload and its HTTP exchanges."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.models import Conversion, ConversionRequest, ConversionRequestEvent
from connector.timeutil import as_utc

BODY_PREVIEW_CHARS = 300
"""How much of a response body the text view shows (the JSON view has all that was recorded)."""


def conversion_stories(session: Session, conversions: list[Conversion]) -> list[dict[str, Any]]:
    """One complete dict per conversion, with its requests oldest first."""
    ids = [c.id for c in conversions]
    requests: dict[int, list[ConversionRequest]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(
            select(ConversionRequestEvent.conversion_id, ConversionRequest)
            .join(ConversionRequest, ConversionRequest.id == ConversionRequestEvent.request_id)
            .where(ConversionRequestEvent.conversion_id.in_(ids))
            .order_by(ConversionRequest.started_at, ConversionRequest.id)
        ).all()
        for conversion_id, request in rows:
            requests[conversion_id].append(request)
    return [_conversion(c, requests[c.id]) for c in conversions]


def _conversion(c: Conversion, requests: list[ConversionRequest]) -> dict[str, Any]:
    return {
        "id": c.id,
        "pixel_id": c.pixel_id,
        "event_type": c.event_type,
        "custom_event_name": c.custom_event_name,
        "event_id": c.event_id,
        "status": c.status,
        "reason": c.reason,
        "attempts": c.attempts,
        "last_error": c.last_error,
        "created_at": _iso(c.created_at),
        "next_attempt_at": _iso(c.next_attempt_at),
        "sent_at": _iso(c.sent_at),
        "payload": c.payload,
        "requests": [_request(r) for r in requests],
    }


def _request(r: ConversionRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "started_at": _iso(r.started_at),
        "url": r.url,
        "validate_only": r.validate_only,
        "event_count": r.event_count,
        "status_code": r.status_code,
        "elapsed_ms": r.elapsed_ms,
        "error": r.error,
        "body": r.body,
    }


def render_conversion(c: dict[str, Any]) -> list[str]:
    """Readable lines for one conversion: status, payload summary, each request."""
    name = c["event_type"] + (f" ({c['custom_event_name']})" if c["custom_event_name"] else "")
    pixel = c["pixel_id"] or "-"
    lines = [f"Conversion {name} to pixel {pixel}: {c['status']} after {c['attempts']} attempt(s)"]
    if c["reason"]:
        lines.append(f"  reason: {c['reason']}")
    if c["last_error"]:
        lines.append(f"  last error: {c['last_error'][:500]}")
    if c["payload"]:
        lines.append(f"  payload: {payload_summary(c['payload'])}")
    for r in c["requests"]:
        answer = f"HTTP {r['status_code']}" if r["status_code"] is not None else (r["error"] or "no answer")
        mode = " validate_only" if r["validate_only"] else ""
        lines.append(
            f"  request #{r['id']} at {r['started_at']}{mode}: {answer} in {r['elapsed_ms']} ms, "
            f"{r['event_count']} event(s)"
        )
        if r["body"]:
            lines.append(f"    response: {r['body'][:BODY_PREVIEW_CHARS]}")
        if r["error"] and r["status_code"] is None and r["error"] != answer:
            lines.append(f"    error: {r['error'][:BODY_PREVIEW_CHARS]}")
    return lines


def payload_summary(payload: dict[str, Any]) -> str:
    """id, time, page, oppref, which user fields (names only), opt_out and data, on one line."""
    parts = [f"id={payload.get('id')}"]
    if "timestamp_ms" in payload:
        parts.append(f"timestamp_ms={payload['timestamp_ms']}")
    for name in ("source_url", "oppref", "action_source"):
        if payload.get(name):
            parts.append(f"{name}={payload[name]}")
    if payload.get("user"):
        parts.append("user=" + ",".join(sorted(payload["user"])))
    if payload.get("opt_out"):
        parts.append("opt_out=true")
    parts.append("data=" + json.dumps(payload.get("data", {}), separators=(",", ":")))
    return " ".join(parts)


def _iso(value: Any) -> str | None:
    moment = as_utc(value)
    return moment.isoformat() if moment is not None else None
