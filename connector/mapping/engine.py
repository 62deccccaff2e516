"""The pure mapping engine: which CRM fields a submission writes (policies, transforms, lengths)."""

from __future__ import annotations

import logging
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from typing import Any

from connector.attribution import Attribution, Contact
from connector.mapping.model import FieldRule, Mapping
from connector.mapping.transforms import TransformError, apply_transforms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """What the engine decided for one CRM field, and why."""

    target: str
    source: str
    action: str  # write | skip
    value: str | None
    reason: str


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _as_dict(value: Attribution | Contact | AnyMapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, (Attribution, Contact)):
        return value.to_dict()
    return dict(value)


def submission_values(
    attribution: Attribution | AnyMapping[str, Any] | None,
    contact: Contact | AnyMapping[str, Any] | None,
    source: str | None,
    form_id: str | None,
) -> dict[str, str]:
    """Every named value a mapping can refer to, for one submission (empty values left out)."""
    values = {**_as_dict(contact), **_as_dict(attribution)}
    if source:
        values["source"] = source
    if form_id:
        values["form_id"] = form_id
    return {k: str(v) for k, v in values.items() if not _empty(v)}


def _current(current: AnyMapping[str, Any], target: str) -> Any:
    if target in current:
        return current[target]
    lowered = target.lower()
    return next((v for k, v in current.items() if k.lower() == lowered), None)


def _length(lengths: AnyMapping[str, int], target: str) -> int | None:
    return lengths.get(target) or next((n for k, n in lengths.items() if k.lower() == target.lower()), None)


def _value(rule: FieldRule, values: dict[str, str], length: int | None) -> tuple[str | None, str]:
    raw = [rule.constant] if rule.constant is not None else [values.get(name, "") for name in rule.sources]
    used_default = False
    if not any(raw):
        if rule.default is None:
            return None, "no value in this submission"
        raw, used_default = [rule.default], True
    try:
        text = apply_transforms(raw, rule.transforms, length)
    except TransformError as exc:
        return None, f"transform failed: {exc}"
    note = "default value" if used_default else ""
    if length and len(text) > length:
        # Longer than the CRM field: Salesforce would reject the whole record (STRING_TOO_LONG).
        text = text[:length]
        note = f"truncated to {length} characters"
    return (text or None), note


def decide(
    mapping: Mapping,
    attribution: Attribution | AnyMapping[str, Any] | None,
    contact: Contact | AnyMapping[str, Any] | None,
    source: str | None = None,
    form_id: str | None = None,
    current_values: AnyMapping[str, Any] | None = None,
    field_lengths: AnyMapping[str, int] | None = None,
) -> list[Decision]:
    """One Decision per rule of the mapping (overrides for source/form applied). See plan_writes."""
    resolved = mapping.resolve(source, form_id)
    values = submission_values(attribution, contact, source, form_id)
    current = current_values or {}
    lengths = field_lengths or {}
    # A `once` group is written only while every field of it is empty, so a first touch is never a
    # mix of two visits (a later utm_content filling the gap next to an older utm_source).
    taken_groups = {
        rule.group
        for rule in resolved.fields
        if rule.policy == "once" and not _empty(_current(current, rule.target))
    }
    decisions = []
    for rule in resolved.fields:
        value, note = _value(rule, values, _length(lengths, rule.target))
        existing = _current(current, rule.target)
        if value is None:
            decisions.append(Decision(rule.target, rule.describe_source, "skip", None, note))
        elif rule.policy == "once" and rule.group in taken_groups:
            decisions.append(
                Decision(
                    rule.target,
                    rule.describe_source,
                    "skip",
                    value,
                    f"once: group {rule.group!r} already set on the record",
                )
            )
        elif rule.policy == "if_empty" and not _empty(existing):
            decisions.append(
                Decision(
                    rule.target,
                    rule.describe_source,
                    "skip",
                    value,
                    f"if_empty: record already has {existing!r}",
                )
            )
        else:
            reason = rule.policy + (f"; {note}" if note else "")
            if current_values is None and rule.policy != "always":
                reason += " (new record)"
            decisions.append(Decision(rule.target, rule.describe_source, "write", value, reason))
    return decisions


def plan_writes(
    mapping: Mapping,
    attribution: Attribution | AnyMapping[str, Any] | None,
    contact: Contact | AnyMapping[str, Any] | None,
    source: str | None = None,
    form_id: str | None = None,
    current_values: AnyMapping[str, Any] | None = None,
    field_lengths: AnyMapping[str, int] | None = None,
) -> dict[str, str]:
    """CRM field -> value to write. `current_values` None means a new record (no current values)."""
    decisions = decide(mapping, attribution, contact, source, form_id, current_values, field_lengths)
    return {d.target: d.value for d in decisions if d.action == "write" and d.value is not None}


def match_value(
    mapping: Mapping,
    attribution: Attribution | AnyMapping[str, Any] | None,
    contact: Contact | AnyMapping[str, Any] | None,
    source: str | None = None,
    form_id: str | None = None,
) -> str | None:
    """The value that identifies the person (e.g. the lowercased email), or None if it is missing."""
    if mapping.match is None:
        return None
    value = submission_values(attribution, contact, source, form_id).get(mapping.match.value)
    if value and mapping.match.value == "email":
        value = value.strip().lower()
    return value or None
