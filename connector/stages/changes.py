"""StageChange values, their deterministic keys, and storing them once per delivery and once per change."""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from connector.config import Settings
from connector.intake.errors import NotFound
from connector.journal import record
from connector.store.fit import fit_values
from connector.store.models import Receipt
from connector.store.models import StageChange as StageChangeRow
from connector.store.upsert import insert_ignoring_conflicts
from connector.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageChange:
    """One record entering a stage: what every CRM source and the poller produce."""

    crm: str
    object_type: str
    record_id: str
    stage: str
    entered_at: datetime
    delivery_key: str
    via: str
    pipeline: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def change_key(self) -> str:
        return change_key(self.crm, self.object_type, self.record_id, self.stage, self.entered_at)


@dataclass(frozen=True)
class StageDelivery:
    """What a CRM source parses one request into; `delivery_key` and `event_id` name the receipt."""

    source: str
    delivery_key: str
    changes: tuple[StageChange, ...]
    event_id: str | None = None
    organization_id: str | None = None
    """Salesforce outbound messages: the sending org, checked against the configuration."""


def require_stages(settings: Settings) -> None:
    """CRM notifications are refused (404) until `stages.enabled` is on."""
    if not settings.stages.enabled:
        raise NotFound("CRM stage changes are off: set [stages] enabled = true")


def change_key(crm: str, obj: str, record_id: str, stage: str, entered_at: datetime) -> str:
    """The same change reached by push and by poll gets the same key: entered-at is cut to the second,
    because webhook times and history rows of one change can differ in milliseconds."""
    second = int(entered_at.astimezone(UTC).timestamp())
    text = "\n".join((crm, obj, record_id, stage.casefold(), str(second)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()  # JSON may carry "\\ud800"


def store_stage_changes(
    session: Session, changes: tuple[StageChange, ...] | list[StageChange], receipt: Receipt | None = None
) -> list[int]:
    """Insert the changes not seen before (by delivery or by change); returns the new row ids."""
    new_ids: list[int] = []
    now = utcnow()
    # In record order (stable, so one record's changes keep theirs): the report_records triggers lock
    # each record's row on PostgreSQL, and two deliveries naming the same records in opposite orders
    # would otherwise deadlock.
    for change in sorted(changes, key=lambda c: (c.crm, c.object_type, c.record_id)):
        values = {
            "crm": change.crm,
            "object_type": change.object_type,
            "record_id": change.record_id,
            "stage": change.stage,
            "pipeline": change.pipeline,
            "entered_at": change.entered_at,
            "via": change.via,
            "delivery_key": change.delivery_key,
            "change_key": change.change_key,
            "receipt_id": receipt.id if receipt is not None else None,
            "fields": change.fields,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        fitted, _cut = fit_values(StageChangeRow, values)
        new_id = session.execute(_insert(session.get_bind().dialect.name).values(**fitted)).scalar()
        what = f"{change.crm} {change.object_type} {change.record_id} entered {change.stage!r}"
        if new_id is None:
            message = f"stage change {what} ({change.via}) already known; not handled again"
        else:
            new_ids.append(new_id)
            message = f"stage change {what} at {change.entered_at.isoformat()} ({change.via})"
        record(
            session,
            "stage_change",
            message,
            receipt=receipt,
            details={"stage_change_id": new_id, "delivery_key": change.delivery_key},
        )
        log.info("%s new=%s", message, new_id is not None)
    return new_ids


@functools.cache
def _insert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on either unique key (delivery or change)."""
    table = StageChangeRow.__table__
    return insert_ignoring_conflicts(dialect, table).returning(table.c.id)
