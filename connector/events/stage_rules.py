"""Stage rules as data: which CRM stage (per CRM, object, pipeline) produces which OpenAI event."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.events.model import CUSTOM_EVENT_NAME, EVENT_DATA_TYPES

log = logging.getLogger(__name__)

OBJECTS: dict[str, dict[str, str]] = {
    "salesforce": {"opportunity": "Opportunity", "lead": "Lead"},
    "hubspot": {"deal": "deals", "deals": "deals", "contact": "contacts", "contacts": "contacts"},
}
"""Accepted object names per CRM -> the API name the adapters use."""

STAGE_FIELDS = {
    "Opportunity": "StageName",
    "Lead": "Status",
    "deals": "dealstage",
    "contacts": "lifecyclestage",
}
"""The field holding the stage (or status / lifecycle stage) of each object."""

DEFAULT_AMOUNT_FIELDS = {"Opportunity": "Amount", "deals": "amount"}
"""Where the amount comes from unless a rule says otherwise (Lead and contact have none)."""

DEFAULT_CURRENCY_FIELDS = {"deals": "deal_currency_code"}
"""Where the currency comes from unless a rule says otherwise; Salesforce: set `CurrencyIsoCode` in
multi-currency orgs (the field does not exist elsewhere), else `stages.default_currency` applies."""

FIRE_POLICIES = ("once", "each_entry")
"""`once`: one event per record and rule, ever; `each_entry`: one per entry into the stage."""

_KEYS = frozenset(
    {
        "crm",
        "object",
        "pipeline",
        "stage",
        "event",
        "custom_event_name",
        "amount_field",
        "currency_field",
        "plan_id_field",
        "plan_id",
        "fire",
    }
)


class StageRuleError(ValueError):
    """A stage rule in the configuration is invalid; the message names the key and why."""


@dataclass(frozen=True)
class StageRule:
    """One rule: entering `stage` of `object` in `crm` produces `event`."""

    name: str
    crm: str
    object: str
    stage: str
    event: str
    pipeline: str = ""
    custom_event_name: str | None = None
    amount_field: str = ""
    currency_field: str = ""
    plan_id_field: str = ""
    plan_id: str | None = None
    fire: str = "once"

    @property
    def stage_field(self) -> str:
        return STAGE_FIELDS[self.object]

    def record_fields(self) -> list[str]:
        """The record fields this rule reads (besides attribution)."""
        names = [self.stage_field, self.amount_field, self.currency_field, self.plan_id_field]
        return [n for n in names if n]

    def matches(self, stage_names: set[str], pipeline_names: set[str]) -> bool:
        """True when the stage (id or label, any case) and the pipeline (if the rule names one) match."""
        wanted = self.stage.casefold()
        if wanted not in {s.casefold() for s in stage_names if s}:
            return False
        return not self.pipeline or self.pipeline.casefold() in {p.casefold() for p in pipeline_names if p}


@dataclass(frozen=True)
class StageRules:
    """Every configured rule, in file order."""

    rules: tuple[StageRule, ...] = ()

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> StageRules:
        """Parse `[stages.rules]`; StageRuleError names `stages.rules.<name>.<key>` and what was expected."""
        return cls(tuple(_parse(name, value) for name, value in raw.items()))

    def for_object(self, crm: str, obj: str) -> list[StageRule]:
        return [r for r in self.rules if r.crm == crm and r.object == obj]

    def objects(self) -> set[tuple[str, str]]:
        return {(r.crm, r.object) for r in self.rules}


def _parse(name: str, raw: Any) -> StageRule:
    where = f"stages.rules.{name}"
    if not isinstance(raw, Mapping):
        raise StageRuleError(f"{where}: expected a table with crm, object, stage and event")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise StageRuleError(
            f"{where}.{unknown[0]}: unknown key (expected one of: {', '.join(sorted(_KEYS))})"
        )
    for key, value in raw.items():
        if not isinstance(value, str):
            raise StageRuleError(f"{where}.{key}: expected a string, got {value!r}")
    crm = raw.get("crm", "")
    if crm not in OBJECTS:
        raise StageRuleError(f"{where}.crm: expected salesforce or hubspot, got {crm!r}")
    obj = OBJECTS[crm].get(raw.get("object", "").casefold())
    if obj is None:
        names = ", ".join(sorted({v for v in OBJECTS[crm].values()}))
        raise StageRuleError(f"{where}.object: expected one of {names} for {crm}, got {raw.get('object')!r}")
    stage = raw.get("stage", "").strip()
    if not stage:
        raise StageRuleError(f"{where}.stage: expected a stage label or internal id, got nothing")
    event = raw.get("event", "")
    if event not in EVENT_DATA_TYPES:
        raise StageRuleError(
            f"{where}.event: expected an OpenAI event type ({', '.join(EVENT_DATA_TYPES)}), got {event!r}"
        )
    custom = raw.get("custom_event_name") or None
    if event == "custom" and (custom is None or not CUSTOM_EVENT_NAME.match(custom)):
        raise StageRuleError(
            f'{where}.custom_event_name: event = "custom" needs a name of 1-64 letters, digits, _ or -, '
            f"got {custom!r}"
        )
    if event != "custom" and custom is not None:
        raise StageRuleError(f'{where}.custom_event_name: only allowed with event = "custom"')
    fire = raw.get("fire", "once")
    if fire not in FIRE_POLICIES:
        raise StageRuleError(f"{where}.fire: expected one of {', '.join(FIRE_POLICIES)}, got {fire!r}")
    data_type = EVENT_DATA_TYPES[event]
    plan_id, plan_field = raw.get("plan_id") or None, raw.get("plan_id_field", "")
    if data_type == "plan_enrollment" and not (plan_id or plan_field):
        raise StageRuleError(f"{where}.plan_id: event {event!r} needs plan_id or plan_id_field")
    if data_type not in ("plan_enrollment", "custom") and (plan_id or plan_field):
        raise StageRuleError(f"{where}.plan_id: event {event!r} carries no plan_id")
    if crm == "hubspot" and raw.get("pipeline") is None and obj == "deals":
        log.debug("%s: no pipeline named; the stage matches in every pipeline", where)
    return StageRule(
        name=name,
        crm=crm,
        object=obj,
        stage=stage,
        event=event,
        pipeline=raw.get("pipeline", "").strip(),
        custom_event_name=custom,
        amount_field=raw.get("amount_field", DEFAULT_AMOUNT_FIELDS.get(obj, "")),
        currency_field=raw.get("currency_field", DEFAULT_CURRENCY_FIELDS.get(obj, "")),
        plan_id_field=plan_field,
        plan_id=plan_id,
        fire=fire,
    )
