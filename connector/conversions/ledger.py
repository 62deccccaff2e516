"""Put the conversion a submission produces into the ledger, once per (pixel, type, custom name, id).

Runs inside the job's transaction, next to the submission row, so the conversion is recorded exactly when
the receipt is marked processed. A redelivered webhook, a job retry or a replay reaches the same unique key
and inserts nothing (INSERT ... ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.conversions.builder import Skip, build_conversion, derived_event_id
from connector.conversions.setup import api_key, builder_settings, conversion_rules, pixel_for_source
from connector.events.model import validate_event
from connector.intake.submission import Submission
from connector.journal import record
from connector.store.models import Conversion, ConversionStatus, Receipt
from connector.store.models import Submission as SubmissionRow
from connector.store.upsert import insert_new
from connector.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)


def record_submission_conversion(
    session: Session,
    settings: Settings,
    receipt: Receipt,
    saved: SubmissionRow,
    submission: Submission,
    route: str,
    now_ms: int | None = None,
) -> str | None:
    """Record what `submission` means for OpenAI; returns the pixel id when a new event awaits sending.

    `route` is the source as `<kind>/<name>` (`forms/generic`), the name rules and pixels use.
    """
    conf = settings.conversions
    if not conf.enabled:
        return None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    rules = conversion_rules(settings)
    rule = rules.rule_for(route, submission.form_id)
    event_id = submission.event_id or derived_event_id(route, receipt.delivery_key)
    pixel = pixel_for_source(conf, route)
    values: dict[str, Any] = {
        "pixel_id": pixel.pixel_id if pixel else "",
        "event_type": rule.event,
        "custom_event_name": rule.custom_event_name or "",
        "event_id": event_id,
        "submission_id": saved.id,
        "receipt_id": receipt.id,
        "trigger": "submission",
        "payload": {},
    }
    notes: tuple[str, ...] = ()
    if pixel is None:
        values.update(_final(ConversionStatus.SKIPPED, "no_pixel", f"no pixel takes source {route!r}"))
    else:
        built = build_conversion(
            submission.attribution,
            submission.contact,
            source=route,
            form_id=submission.form_id,
            delivery_key=receipt.delivery_key,
            received_at=as_utc(receipt.received_at) or utcnow(),
            pixel_id=pixel.pixel_id,
            rules=rules,
            settings=builder_settings(conf),
        )
        notes = built.notes
        if isinstance(built, Skip):
            values.update(_final(ConversionStatus.SKIPPED, built.code, built.reason))
        else:
            event = built.event
            values.update(payload=event.to_json(), timestamp_ms=event.timestamp_ms)
            errors = validate_event(event, now_ms)
            if errors:
                values.update(_final(ConversionStatus.FAILED, "invalid", "invalid: " + "; ".join(errors)))
            elif api_key(conf, pixel) is None:
                values.update(
                    _final(ConversionStatus.WOULD_SEND, "dry_run", "no Conversions API key: dry run")
                )
            else:
                values.update(status=ConversionStatus.PENDING, attempts=0)
    inserted = insert_conversion(session, values)
    _journal(session, receipt, values, inserted, notes)
    if inserted is not None and values["status"] == ConversionStatus.PENDING:
        return values["pixel_id"]
    return None


def _final(status: str, reason: str, message: str) -> dict[str, Any]:
    return {"status": status, "reason": reason, "last_error": message, "attempts": 0}


def insert_conversion(session: Session, values: dict[str, Any]) -> int | None:
    """Insert one ledger row unless its unique key exists; the new id, or None for a known key."""
    now = utcnow()
    statement = (
        insert_new(
            session,
            Conversion,
            ["pixel_id", "event_type", "custom_event_name", "event_id"],
            created_at=now,
            updated_at=now,
            **values,
        ).returning(Conversion.id)
    )
    return session.execute(statement).scalar()


def _journal(
    session: Session,
    receipt: Receipt,
    values: dict[str, Any],
    inserted: int | None,
    notes: tuple[str, ...],
) -> None:
    label = values["event_type"] + (
        f" ({values['custom_event_name']})" if values["custom_event_name"] else ""
    )
    pixel = values["pixel_id"] or "-"
    if inserted is None:
        status = session.scalar(
            select(Conversion.status).where(
                Conversion.pixel_id == values["pixel_id"],
                Conversion.event_type == values["event_type"],
                Conversion.custom_event_name == values["custom_event_name"],
                Conversion.event_id == values["event_id"],
            )
        )
        message = f"{label} for pixel {pixel} already in the ledger ({status}); not recorded again"
    elif values["status"] == ConversionStatus.PENDING:
        message = f"{label} for pixel {pixel} queued for sending"
    else:
        message = f"{label} for pixel {pixel}: {values['status']} ({values['last_error']})"
    record(
        session,
        "conversion",
        message,
        receipt=receipt,
        event_id=values["event_id"],
        details={"conversion_id": inserted, "status": values["status"], "notes": list(notes)},
    )
    log.info(
        "conversion event_id=%s pixel=%s type=%s status=%s new=%s",
        values["event_id"],
        pixel,
        values["event_type"],
        values["status"],
        inserted is not None,
    )
