"""Check a mapping against the live CRM schema before any write, and explain what a sample would write."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from connector.attribution import CLICK_IDS, CONSENT_VALUES, Attribution, Contact
from connector.mapping.engine import Decision, decide, match_value
from connector.mapping.model import FieldRule, Mapping
from connector.mapping.schema import ObjectSchema
from connector.mapping.transforms import RESULT_KIND

log = logging.getLogger(__name__)

TYPICAL_LENGTH = {
    "utm": 100,
    "click_id": 255,
    "event_id": 36,
    "page": 1024,
    "short": 40,
    "contact": 80,
}
"""Lengths (characters) that real values commonly reach; shorter fields get a warning (click ids: error)."""

KNOWN_VALUES = {"consent": CONSENT_VALUES}
"""Closed value sets we can compare with restricted picklists."""


@dataclass(frozen=True)
class Finding:
    """One schema problem: `error` will make writes fail or lose data, `warning` may."""

    level: str
    target: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.target}: {self.message}"


def _typical(name: str) -> tuple[int, str]:
    base = name.removeprefix("first_").removeprefix("latest_")
    if name in CLICK_IDS:
        return TYPICAL_LENGTH["click_id"], "click_id"
    if base.startswith("utm_"):
        return TYPICAL_LENGTH["utm"], "utm"
    if name == "event_id":
        return TYPICAL_LENGTH["event_id"], "event_id"
    if base in ("landing_page", "referrer") or name == "conversion_page":
        return TYPICAL_LENGTH["page"], "page"
    if base in ("channel", "ai_source", "touch_at") or name in (
        "consent",
        "submitted_at",
        "source",
        "form_id",
    ):
        return TYPICAL_LENGTH["short"], "short"
    return TYPICAL_LENGTH["contact"], "contact"


def _value_kind(rule: FieldRule) -> str:
    kinds = [RESULT_KIND[t.name] for t in rule.transforms if t.name in RESULT_KIND]
    return kinds[-1] if kinds else "text"


def _check_rule(rule: FieldRule, schema: ObjectSchema, is_match: bool) -> list[Finding]:
    target = schema.get(rule.target)
    if target is None:
        return [
            Finding(
                "error",
                rule.target,
                f"field does not exist on {schema.object} (from "
                f"{rule.describe_source}); run `connector crm setup` or fix `to`",
            )
        ]
    findings = []
    if not target.updateable and not target.createable:
        findings.append(Finding("error", rule.target, "field is read-only (not createable, not updateable)"))
    elif not target.updateable and rule.policy == "always" and not is_match:
        findings.append(
            Finding(
                "error",
                rule.target,
                "field is not updateable: policy always cannot update it; "
                "use once or if_empty, or make it editable",
            )
        )
    elif not target.createable:
        findings.append(Finding("warning", rule.target, "field is not createable: new records will miss it"))
    kind = _value_kind(rule)
    if target.kind in ("date", "datetime") and kind == "text":
        findings.append(
            Finding(
                "error",
                rule.target,
                f"field type is {target.vendor_type or target.kind}; add the iso_{target.kind} transform",
            )
        )
    elif target.kind not in ("text", "picklist", "date", "datetime") or (
        target.kind == "date" and kind == "datetime"
    ):
        findings.append(
            Finding(
                "error",
                rule.target,
                f"field type is {target.vendor_type or target.kind}, the "
                f"mapping writes {kind} ({rule.describe_source})",
            )
        )
    if target.kind == "text" and target.length:
        longest = max((_typical(s) for s in rule.sources), default=(0, ""))
        if rule.constant is not None and len(rule.constant) > target.length:
            findings.append(
                Finding(
                    "error",
                    rule.target,
                    f"constant {rule.constant!r} is longer than the field ({target.length})",
                )
            )
        if longest[0] > target.length:
            level = "error" if longest[1] == "click_id" else "warning"
            consequence = (
                "a truncated click id no longer matches anything"
                if level == "error"
                else "longer values will be truncated"
            )
            findings.append(
                Finding(
                    level,
                    rule.target,
                    f"length {target.length} is shorter than typical "
                    f"{rule.describe_source} values ({longest[0]}): "
                    f"{consequence}",
                )
            )
    if target.kind == "picklist" and target.restricted_picklist:
        allowed = set(target.picklist_values)
        if rule.constant is not None:
            candidates: tuple[str, ...] = (rule.constant,)
        else:
            candidates = tuple(v for s in rule.sources for v in KNOWN_VALUES.get(s, ()))
        rejected = sorted(v for v in candidates if v not in allowed)
        if rejected:
            findings.append(
                Finding(
                    "error",
                    rule.target,
                    f"restricted picklist rejects {', '.join(rejected)}; "
                    f"allowed: {', '.join(sorted(allowed))}",
                )
            )
        elif not candidates:
            findings.append(
                Finding(
                    "warning",
                    rule.target,
                    f"restricted picklist ({len(allowed)} values): "
                    f"{rule.describe_source} values outside it will be "
                    "rejected; make the picklist unrestricted",
                )
            )
    return findings


def check_against_schema(mapping: Mapping, schema: ObjectSchema) -> list[Finding]:
    """Every problem the live schema would cause: missing fields, types, permissions, lengths, picklists."""
    findings: list[Finding] = []
    match_field = mapping.match.field if mapping.match else None
    if match_field:
        matched = schema.get(match_field)
        if matched is None:
            findings.append(Finding("error", match_field, f"match field does not exist on {schema.object}"))
        elif mapping.match and mapping.match.external_id and not (matched.external_id or matched.unique):
            findings.append(
                Finding(
                    "error", match_field, "match.external_id = true needs a field marked External ID / unique"
                )
            )
    for rule in mapping.all_rules():
        for finding in _check_rule(rule, schema, rule.target == match_field):
            if finding not in findings:
                findings.append(finding)
    for name, target in mapping.read.items():
        if schema.get(target) is None:
            findings.append(
                Finding("error", target, f"read field for {name} does not exist on {schema.object}")
            )
    log.info("checked %s against %s: %d findings", mapping.path, schema.object, len(findings))
    return findings


@dataclass(frozen=True)
class Explanation:
    """A dry run: the person match and the decision for every field."""

    mapping: Mapping
    match_field: str | None
    match_value: str | None
    decisions: list[Decision] = field(default_factory=list)

    @property
    def writes(self) -> dict[str, str]:
        return {d.target: d.value for d in self.decisions if d.action == "write" and d.value is not None}

    def render(self) -> str:
        """Plain text for `connector check --sample`."""
        lines = [
            f"{self.mapping.crm} {self.mapping.object} ({self.mapping.path})",
            f"match: {self.match_field} = {self.match_value!r}"
            if self.match_value
            else f"match: {self.match_field}: MISSING in sample: the write would fail",
        ]
        width = max((len(d.target) for d in self.decisions), default=10)
        for d in self.decisions:
            shown = repr(d.value) if d.value is not None else "-"
            lines.append(f"  {d.action.upper():5} {d.target:<{width}} = {shown}  [{d.source}; {d.reason}]")
        lines.append(f"{len(self.writes)} field(s) would be written; nothing was sent.")
        return "\n".join(lines)


def explain(
    mapping: Mapping, sample_payload: dict[str, Any], schema: ObjectSchema | None = None
) -> Explanation:
    """Dry-run a sample: {source, form_id, attribution{}, contact{}, current{}} or flat hidden fields."""
    payload = dict(sample_payload)
    source, form_id = payload.get("source"), payload.get("form_id")
    raw_attribution, raw_contact = payload.get("attribution"), payload.get("contact")
    raw_attribution = raw_attribution if isinstance(raw_attribution, dict) else payload
    raw_contact = raw_contact if isinstance(raw_contact, dict) else payload
    attribution = Attribution.from_mapping(raw_attribution)
    contact = Contact.from_mapping(raw_contact)
    current = payload.get("current") if isinstance(payload.get("current"), dict) else None
    lengths = schema.lengths() if schema else None
    decisions = decide(mapping, attribution, contact, source, form_id, current, lengths)
    return Explanation(
        mapping,
        mapping.match.field if mapping.match else None,
        match_value(mapping, attribution, contact, source, form_id),
        decisions,
    )
