"""Mapping value objects: what a loaded, validated mapping file is made of."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from connector.attribution import ATTRIBUTION_FIELDS, CONTACT_FIELDS

POLICIES = ("once", "always", "if_empty")
"""Write policies: `once` = first-touch group written only while all of it is empty; `always` = overwrite;
`if_empty` = write this one field only while it is empty."""

DERIVED_VALUES = ("source", "form_id")
"""Values that come from the submission itself rather than from the attribution or the contact."""

VALUE_NAMES = (*ATTRIBUTION_FIELDS, *CONTACT_FIELDS, *DERIVED_VALUES)
"""Every name a mapping may use in `from`."""

READ_NAMES = (
    *ATTRIBUTION_FIELDS,
    *CONTACT_FIELDS,
    "stage",
    "amount",
    "currency",
    "pipeline",
    "close_date",
    "stage_entered_at",
    "converted_opportunity_id",
    "converted_contact_id",
)
"""Names a `[read]` table may use: attribution, contact and the deal/opportunity facts conversions need."""

DEAL_OBJECTS = {"salesforce": "Opportunity", "hubspot": "deals"}
"""The object each CRM keeps revenue on: a mapping for it writes a person's attribution onto the record
by its id (no [match]) when the connector first learns of it, and is never a submission's mapping."""

DEFAULT_ONCE_GROUP = "first_touch"
"""Group that `once` fields belong to unless they name another one."""


@dataclass(frozen=True)
class Transform:
    """A named transform with its optional argument, e.g. truncate(80) or join(" | ")."""

    name: str
    arg: str | int | None = None

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}({self.arg!r})"


@dataclass(frozen=True)
class FieldRule:
    """One `value -> CRM field` line: from a named value (or several, joined) or a constant."""

    target: str
    policy: str
    sources: tuple[str, ...] = ()
    constant: str | None = None
    default: str | None = None
    transforms: tuple[Transform, ...] = ()
    group: str | None = None

    @property
    def describe_source(self) -> str:
        if self.constant is not None:
            return f"constant {self.constant!r}"
        return " + ".join(self.sources)


@dataclass(frozen=True)
class Override:
    """Changes for submissions from one source and/or form: extra or replaced rules, skipped targets."""

    source: str | None = None
    form_id: str | None = None
    fields: tuple[FieldRule, ...] = ()
    skip: tuple[str, ...] = ()

    def applies(self, source: str | None, form_id: str | None) -> bool:
        if self.source is not None and self.source != source:
            return False
        return not (self.form_id is not None and self.form_id != form_id)

    @property
    def specificity(self) -> int:
        return (self.source is not None) + 2 * (self.form_id is not None)


@dataclass(frozen=True)
class Match:
    """How a person is found in the CRM: `field` holds `value` (email, or a unique external id)."""

    field: str
    value: str = "email"
    external_id: bool = False


@dataclass(frozen=True)
class Mapping:
    """One validated mapping file for one CRM object."""

    crm: str
    object: str
    path: Path
    match: Match | None = None
    fields: tuple[FieldRule, ...] = ()
    overrides: tuple[Override, ...] = ()
    read: dict[str, str] = field(default_factory=dict)
    when_sources: tuple[str, ...] = ()
    when_form_ids: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return bool(self.fields)

    @property
    def for_deals(self) -> bool:
        """Written onto opportunities or deals by record id, not onto people (DEAL_OBJECTS)."""
        return DEAL_OBJECTS.get(self.crm) == self.object

    def resolve(self, source: str | None = None, form_id: str | None = None) -> Mapping:
        """The mapping with the overrides for this source/form applied (least specific first)."""
        rules = {rule.target: rule for rule in self.fields}
        for override in sorted(self.overrides, key=lambda o: o.specificity):
            if not override.applies(source, form_id):
                continue
            for target in override.skip:
                rules.pop(target, None)
            for rule in override.fields:
                rules[rule.target] = rule
        return replace(self, fields=tuple(rules.values()), overrides=())

    def targets(self) -> tuple[str, ...]:
        """Every CRM field this mapping may write, overrides included."""
        names = [r.target for r in self.fields]
        names += [r.target for o in self.overrides for r in o.fields if r.target not in names]
        return tuple(dict.fromkeys(names))

    def all_rules(self) -> tuple[FieldRule, ...]:
        return (*self.fields, *(r for o in self.overrides for r in o.fields))

    def fields_to_read(self) -> tuple[str, ...]:
        """CRM fields whose current value the policies need (once / if_empty), overrides included."""
        return tuple(dict.fromkeys(r.target for r in self.all_rules() if r.policy != "always"))


@dataclass(frozen=True)
class MappingSet:
    """All mappings loaded from a directory, and the choice of which one a submission uses."""

    mappings: tuple[Mapping, ...]

    def for_crm(self, crm: str) -> tuple[Mapping, ...]:
        return tuple(m for m in self.mappings if m.crm == crm)

    def get(self, crm: str, object_name: str) -> Mapping | None:
        return next((m for m in self.mappings if m.crm == crm and m.object == object_name), None)

    def for_submission(self, crm: str, source: str | None, form_id: str | None) -> Mapping | None:
        """The write mapping for this submission (a form match beats a source match beats the default)."""
        best: tuple[int, Mapping] | None = None
        for mapping in self.for_crm(crm):
            if not mapping.writes or mapping.for_deals:
                continue
            if mapping.when_form_ids and form_id in mapping.when_form_ids:
                score = 2
            elif mapping.when_sources and source in mapping.when_sources:
                score = 1
            elif not mapping.when_form_ids and not mapping.when_sources:
                score = 0
            else:
                continue
            if best is None or score > best[0]:
                best = (score, mapping)
        return best[1] if best else None
