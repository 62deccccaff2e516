"""The stages sales ops can pick from, read from the live CRM: HubSpot deal pipelines and lifecycle
stages, Salesforce Opportunity stages and Lead statuses (their picklists)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.crm.base import CrmAdapter
from connector.events.stage_rules import OBJECTS, STAGE_FIELDS, StageRule


@dataclass(frozen=True)
class StageChoice:
    """One stage a rule may name: the object, its pipeline (HubSpot deals) and the stage's id and label."""

    object: str
    stage: str
    label: str
    pipeline: str = ""
    pipeline_label: str = ""

    @property
    def key(self) -> str:
        """The picker's value: object, pipeline and stage in one."""
        return f"{self.object}|{self.pipeline}|{self.stage}"

    @property
    def group(self) -> str:
        if self.object == "deals":
            return f"Deals: {self.pipeline_label or self.pipeline}"
        return {
            "contacts": "Contacts: lifecycle stage",
            "Opportunity": "Opportunity: stage",
            "Lead": "Lead: status",
        }.get(self.object, self.object)


def objects(crm: str) -> list[str]:
    """The API names of the objects stage rules watch in this CRM."""
    return sorted(set(OBJECTS.get(crm, {}).values()))


def live_choices(adapter: CrmAdapter, crm: str) -> list[StageChoice]:
    """Every stage of every watched object, as the live CRM names them (ConnectorError when unreachable)."""
    found: list[StageChoice] = []
    if crm == "hubspot":
        # Imported here: it loads the HubSpot client library, which Salesforce sites never need.
        from connector.crm.hubspot_labels import fetch_stage_labels

        for object_name in ("deals", "contacts"):
            labels = fetch_stage_labels(adapter, object_name)  # type: ignore[arg-type]
            found += [
                StageChoice(object_name, sid, v["label"], v["pipeline"], v["pipeline_label"])
                for sid, v in labels.items()
            ]
        return found
    for object_name in objects(crm):
        field = adapter.describe(object_name).get(STAGE_FIELDS[object_name])
        found += [StageChoice(object_name, v, v) for v in (field.picklist_values if field else ())]
    return found


def unknown(rule: StageRule, choices: list[StageChoice]) -> str | None:
    """Why the live CRM has no such stage (or pipeline) for the rule; None when it has."""
    mine = [c for c in choices if c.object == rule.object]
    wanted = rule.stage.casefold()
    if rule.pipeline:
        pipeline = rule.pipeline.casefold()
        in_pipeline = [c for c in mine if pipeline in (c.pipeline.casefold(), c.pipeline_label.casefold())]
        if not in_pipeline:
            pipelines = ", ".join(sorted({c.pipeline_label or c.pipeline for c in mine if c.pipeline}))
            return f"{rule.crm} has no {rule.object} pipeline {rule.pipeline!r}; known: {pipelines or 'none'}"
        mine = in_pipeline
    if any(wanted in (c.stage.casefold(), c.label.casefold()) for c in mine):
        return None
    where = f" in pipeline {rule.pipeline!r}" if rule.pipeline else ""
    stages = ", ".join(dict.fromkeys(c.label for c in mine)) or "none"
    return f"{rule.crm} has no {rule.object} stage {rule.stage!r}{where}; known: {stages}"


def describe_choice(rule: StageRule, choices: list[StageChoice]) -> dict[str, Any]:
    """The stage and pipeline labels of a rule as the CRM shows them (the rule may name ids)."""
    wanted = rule.stage.casefold()
    match = next(
        (
            c
            for c in choices
            if c.object == rule.object and wanted in (c.stage.casefold(), c.label.casefold())
        ),
        None,
    )
    return {
        "label": match.label if match else rule.stage,
        "pipeline": match.pipeline_label if match else rule.pipeline,
    }
