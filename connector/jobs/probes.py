"""The console's "send a test event": a validate_only sample sent by a worker, its answer kept in the ledger.

The web process never calls OpenAI itself; the page queues this job and shows its result when it is done.
"""

from __future__ import annotations

import logging
from typing import Any

from connector import context
from connector.config import ConfigError
from connector.context import Context
from connector.conversions.probe import probe, store_probe
from connector.queue.enqueue import new_job_id, schedule

log = logging.getLogger(__name__)


def enqueue_test_event(ctx: Context, pixel_name: str) -> str:
    """Queue `send_test_event(pixel_name)`; returns the job id (raises RedisError when Redis is down)."""
    job_id = new_job_id("conversions-test")
    schedule(ctx, send_test_event, pixel_name, job_id=job_id, description=f"test event to pixel {pixel_name}")
    return job_id


def send_test_event(pixel_name: str) -> dict[str, Any]:
    """Send the sample event with validate_only=true to the named pixel; what OpenAI answered."""
    ctx = context.current()
    try:
        record = probe(ctx.settings, pixel_name)
    except ConfigError as exc:
        log.info("test event to pixel %s not sent: %s", pixel_name, exc)
        return {"sent": False, "error": str(exc)}
    with ctx.sessions.begin() as session:
        request_id = store_probe(session, record)
    ok = record.status_code is not None and 200 <= record.status_code < 300
    log.info("test event to pixel %s: HTTP %s request_id=%s", pixel_name, record.status_code, request_id)
    return {
        "sent": True,
        "ok": ok,
        "request_id": request_id,
        "status_code": record.status_code,
        "body": record.body[:2000],
        "error": record.error,
        "elapsed_ms": round(record.elapsed_ms),
    }
