"""`connector check` for stage rules: every stage a rule names must exist in the live CRM."""

from __future__ import annotations

import logging
from collections.abc import Callable

from connector.config import ConfigError, Settings
from connector.crm.configured import build_adapter
from connector.errors import AuthError, ConnectorError
from connector.events.stage_rules import StageRule, StageRules

log = logging.getLogger(__name__)

Say = Callable[[str], None]


def check_stages(settings: Settings, say: Say) -> int:
    """Print one line per rule; return the number of problems (unknown stages, unusable rules)."""
    conf = settings.stages
    if not conf.enabled:
        say("stages: off")
        return 0
    rules = StageRules.from_mapping(conf.rules).rules
    polling = f"polling every {conf.poll_interval_seconds}s" if conf.poll_interval_seconds else "push only"
    say(f"stages: on, {len(rules)} rule(s), {polling}, default currency {conf.default_currency}")
    problems = 0
    if any(r.crm == "salesforce" for r in rules) and not conf.salesforce_organization_id:
        say(
            "stages: salesforce_organization_id is empty: outbound messages will be refused (flows still work)"
        )
    adapter = None
    try:
        adapter = build_adapter(settings) if settings.crm.provider != "none" else None
    except (ConfigError, ValueError) as exc:
        say(f"stages: {exc}")
        return problems + 1
    known: dict[str, tuple[dict[str, str], set[str]] | None] = {}
    for rule in rules:
        if rule.crm != settings.crm.provider:
            say(f"stage rule {rule.name}: for {rule.crm}, but crm.provider is {settings.crm.provider!r}")
            problems += 1
            continue
        if rule.object not in known:
            known[rule.object] = _stages(adapter, rule, say)
        found = known[rule.object]
        if found is None:
            continue
        stages, pipelines = found
        stage_ok = rule.stage.casefold() in {s.casefold() for pair in stages.items() for s in pair}
        pipeline_ok = not rule.pipeline or rule.pipeline.casefold() in {p.casefold() for p in pipelines}
        if stage_ok and pipeline_ok:
            say(f"stage rule {rule.name}: {rule.crm} {rule.object} {rule.stage!r} -> {rule.event}: found")
            continue
        problems += 1
        what = f"stage {rule.stage!r}" if not stage_ok else f"pipeline {rule.pipeline!r}"
        choices = (
            ", ".join(sorted({v for v in stages.values()})) if not stage_ok else ", ".join(sorted(pipelines))
        )
        say(f"stage rule {rule.name}: UNKNOWN {what} in {rule.crm} {rule.object}; known: {choices}")
    return problems


def _stages(adapter, rule: StageRule, say: Say) -> tuple[dict[str, str], set[str]] | None:
    """Stage id -> label, and pipeline ids and labels, from the live CRM (None: not reachable). HubSpot:
    deal pipelines, or the lifecycle stage options of contacts."""
    try:
        if rule.crm == "hubspot":
            # Imported here: it loads the HubSpot client library, which Salesforce sites never need.
            from connector.crm.hubspot_labels import fetch_stage_labels

            found = fetch_stage_labels(adapter, rule.object)
            pipelines = {v["pipeline"] for v in found.values()} | {
                v["pipeline_label"] for v in found.values()
            }
            pipelines.discard("")  # lifecycle stages belong to no pipeline
            return {sid: v["label"] for sid, v in found.items()}, pipelines
        field = adapter.describe(rule.object).get(rule.stage_field)
        values = field.picklist_values if field is not None else ()
        return {v: v for v in values}, set()
    except AuthError as exc:
        say(f"stage rule {rule.name}: credentials refused ({exc}); stages not checked")
    except ConnectorError as exc:
        say(f"stage rule {rule.name}: {rule.crm} unreachable ({exc}); stages not checked")
    return None
