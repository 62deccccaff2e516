"""Turn stored stage changes into conversion ledger values: rule, record, attribution, event.

One CRM read per object and batch: the records (with every field the rules need), then their people.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from connector.config import Settings, stage_rules_in_force
from connector.conversions.setup import api_key, pixel_for_source
from connector.crm.base import CrmAdapter
from connector.events.currency import InvalidAmount, UnknownCurrency, to_minor_units
from connector.events.hashing import InvalidUserField, hash_email
from connector.events.model import (
    EVENT_DATA_TYPES,
    MAX_AGE_MS,
    ConversionEvent,
    EventData,
    UserData,
    validate_event,
)
from connector.events.stage_rules import StageRule
from connector.mapping import MappingSet
from connector.stages.lookup import (
    Attribution,
    Person,
    attribution_fields,
    existing,
    from_ledger,
    related_people,
)
from connector.store.models import ConversionStatus, StageChange, StageChangeStatus
from connector.timeutil import as_utc

log = logging.getLogger(__name__)

STAGE_EVENT_NAMESPACE = uuid.UUID("0b7f4f1e-5a9d-5c3e-8f61-4d2a9c7e1b53")
"""uuid5 namespace of stage conversion ids: (crm, object, record, rule[, entered second])."""


@dataclass
class Resolution:
    """What one stage change became; `conversion` holds ledger values when an event is recorded."""

    row_id: int
    status: str
    message: str
    rule: str | None = None
    event_id: str | None = None
    attributed_event_id: str | None = None
    conversion: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    amount: int | None = None
    """The record's amount in minor units (with `currency`) when a rule matched, sent or not."""
    currency: str | None = None


def stage_event_id(crm: str, obj: str, record_id: str, rule: StageRule, entered_ms: int) -> str:
    """The same change (and, under `once`, every later entry too) always gets the same id."""
    parts = ["stage", crm, obj, record_id, rule.name]
    if rule.fire == "each_entry":
        parts.append(str(entered_ms // 1000))
    return str(uuid.uuid5(STAGE_EVENT_NAMESPACE, "\n".join(parts)))


def resolve(
    session: Session,
    settings: Settings,
    adapter: CrmAdapter,
    mappings: MappingSet,
    rows: Sequence[StageChange],
    now_ms: int,
    stage_labels: dict[str, dict[str, str]] | None = None,
) -> list[Resolution]:
    """Resolve a batch of one CRM object's stage changes (all rows share crm and object_type)."""
    rules = stage_rules_in_force(settings)
    crm, obj = rows[0].crm, rows[0].object_type
    labels = stage_labels or {}
    pipeline_labels = {v["pipeline"]: v["pipeline_label"] for v in labels.values()}
    results: list[Resolution] = []
    candidates: dict[int, list[StageRule]] = {}
    for row in rows:
        names = {row.stage, labels.get(row.stage, {}).get("label", "")}
        found = [r for r in rules.for_object(crm, obj) if r.matches(names, {r.pipeline})]
        if found:
            candidates[row.id] = found
        else:
            results.append(Resolution(row.id, StageChangeStatus.NO_RULE, f"no stage rule for {row.stage!r}"))
    wanted = [r for r in rows if r.id in candidates]
    if not wanted:
        return results
    attr_fields = attribution_fields(mappings, crm, obj)
    record_fields = {f for rs in candidates.values() for r in rs for f in r.record_fields()}
    if crm == "hubspot" and obj == "deals":
        record_fields.add("pipeline")
    attr = existing(adapter, obj, attr_fields)
    columns = sorted(record_fields | set(attr.values()))
    ids = list(dict.fromkeys(r.record_id for r in wanted))
    records = adapter.read_records(obj, ids, columns)
    people: dict[str, list[Person]] = {
        rid: [Person(f"the {obj} itself", rid, {k: v.get(t) for k, t in attr.items()})]
        for rid, v in records.items()
    }
    for rid, related in related_people(adapter, mappings, crm, obj, list(records)).items():
        people.setdefault(rid, []).extend(related)
    attributions = from_ledger(session, crm, people)
    for row in wanted:
        record = records.get(row.record_id)
        if record is None:
            results.append(
                Resolution(
                    row.id, StageChangeStatus.DELETED, f"{obj} {row.record_id} no longer exists in {crm}"
                )
            )
            continue
        pipeline = str(record.get("pipeline") or row.pipeline or "")
        pipeline_names = {pipeline, pipeline_labels.get(pipeline, "")}
        rule = next(
            (r for r in candidates[row.id] if not r.pipeline or r.matches({r.stage}, pipeline_names)), None
        )
        if rule is None:
            results.append(
                Resolution(
                    row.id,
                    StageChangeStatus.NO_RULE,
                    f"no stage rule for {row.stage!r} in pipeline {pipeline!r}",
                )
            )
            continue
        results.append(_convert(settings, row, rule, record, attributions[row.record_id], now_ms))
    return results


def _convert(
    settings: Settings,
    row: StageChange,
    rule: StageRule,
    record: dict[str, Any],
    found: Attribution,
    now_ms: int,
) -> Resolution:
    conf, stages = settings.conversions, settings.stages
    entered_ms = int(as_utc(row.entered_at).timestamp() * 1000)
    event_id = stage_event_id(row.crm, row.object_type, row.record_id, rule, entered_ms)
    result = Resolution(row.id, "", "", rule=rule.name, event_id=event_id, attributed_event_id=found.event_id)
    result.notes = list(found.found)
    data = _data(rule, record, stages.default_currency, result.notes)
    result.amount, result.currency = data.amount, data.currency
    if entered_ms < now_ms - MAX_AGE_MS:
        result.status = StageChangeStatus.EXPIRED
        result.message = (
            f"stage entered {row.entered_at.isoformat()}: older than OpenAI's 7-day window; not sent"
        )
        return result
    consent = found.consent if found.consent in ("granted", "denied") else conf.unknown_consent
    email_ok = bool(found.email) and consent == "granted" and conf.send_user_data
    if not (found.oppref or found.event_id or email_ok) and stages.unattributable == "record":
        result.status = StageChangeStatus.UNATTRIBUTABLE
        result.message = (
            "no oppref, no event id and no consented email on the record, its people or our ledger"
        )
        return result
    if consent != "granted" and conf.require_consent:
        result.status = StageChangeStatus.SKIPPED
        result.message = f"no marketing consent (consent={found.consent!r}) and require_consent is on"
        return result
    pixel = pixel_for_source(conf, f"crm/{row.crm}")
    if pixel is None:
        result.status, result.message = StageChangeStatus.SKIPPED, f"no pixel takes source crm/{row.crm}"
        return result
    user = None
    if email_ok:
        try:
            user = UserData(emails_sha256=(hash_email(found.email or ""),), format=conf.user_field_format)  # type: ignore[arg-type]
        except InvalidUserField as exc:
            result.notes.append(f"email left out: {exc}")
    event = ConversionEvent(
        id=event_id,
        type=rule.event,
        custom_event_name=rule.custom_event_name,
        timestamp_ms=entered_ms,
        action_source="offline",
        source_url=found.source_url,
        oppref=found.oppref,
        user=user,
        opt_out=consent != "granted",
        data=data,
    )
    values: dict[str, Any] = {
        "pixel_id": pixel.pixel_id,
        "event_type": rule.event,
        "custom_event_name": rule.custom_event_name or "",
        "event_id": event_id,
        "submission_id": found.submission_id,
        "receipt_id": row.receipt_id,
        "trigger": f"stage:{rule.name}"[:64],
        "payload": event.to_json(),
        "timestamp_ms": entered_ms,
        "attempts": 0,
    }
    errors = validate_event(event, now_ms)
    if errors:
        values.update(
            status=ConversionStatus.FAILED, reason="invalid", last_error="invalid: " + "; ".join(errors)
        )
    elif api_key(conf, pixel) is None:
        values.update(
            status=ConversionStatus.WOULD_SEND, reason="dry_run", last_error="no Conversions API key: dry run"
        )
    else:
        values.update(status=ConversionStatus.PENDING)
    result.status, result.conversion = StageChangeStatus.CONVERTED, values
    result.message = (
        f"{rule.name}: {rule.event} {event_id} at {row.entered_at.isoformat()} ({values['status']})"
    )
    return result


def _data(rule: StageRule, record: dict[str, Any], default_currency: str, notes: list[str]) -> EventData:
    amount_text = record.get(rule.amount_field) if rule.amount_field else None
    currency = str(record.get(rule.currency_field) or "").strip().upper() if rule.currency_field else ""
    currency = currency or default_currency
    amount = None
    if amount_text not in (None, ""):
        try:
            amount = to_minor_units(str(amount_text), currency)
        except (InvalidAmount, UnknownCurrency) as exc:
            notes.append(f"amount left out: {exc}")
    plan_id = str(record.get(rule.plan_id_field) or "") if rule.plan_id_field else ""
    return EventData(
        type=EVENT_DATA_TYPES[rule.event],
        amount=amount,
        currency=currency if amount is not None else None,
        plan_id=plan_id or rule.plan_id,
    )
