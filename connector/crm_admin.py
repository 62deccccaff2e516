"""Operator commands for the CRM: check mappings (and the live schema), dry-run a sample, `crm setup`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector.config import ConfigError, Settings
from connector.crm.base import AuthError, CrmAdapter, CrmError
from connector.crm.configured import build_adapter, crm_enabled
from connector.mapping import MappingError, MappingSet, check_against_schema, explain, load_mappings
from connector.mapping.schema import ObjectSchema

log = logging.getLogger(__name__)

Say = Callable[[str], None]


def _load(settings: Settings, say: Say) -> tuple[MappingSet | None, int]:
    path = Path(settings.crm.mappings_path).expanduser()
    if not path.exists():
        if crm_enabled(settings):
            say(f"mappings: {path}: NOT FOUND (crm.mappings_path)")
            return None, 1
        say(f"mappings: {path}: none (no CRM configured)")
        return None, 0
    try:
        mappings = load_mappings(path)
    except MappingError as exc:
        for problem in exc.problems:
            say(f"mapping: {problem}")
        return None, len(exc.problems)
    names = ", ".join(f"{m.path.name} ({m.crm} {m.object})" for m in mappings.mappings)
    say(f"mappings: {path}: {len(mappings.mappings)} valid: {names}")
    return mappings, 0


def _adapter(settings: Settings, say: Say) -> tuple[CrmAdapter | None, int]:
    try:
        return build_adapter(settings), 0
    except (ConfigError, ValueError) as exc:
        say(f"crm {settings.crm.provider}: {exc}")
        return None, 1


def _describe(adapter: CrmAdapter, name: str, object_name: str, say: Say) -> tuple[ObjectSchema | None, int]:
    """The live schema; unreachable is reported but not a problem, refused credentials are."""
    try:
        return adapter.describe(object_name), 0
    except AuthError as exc:
        say(f"crm {name}: {object_name}: credentials refused ({exc}): check the token and permissions")
        return None, 1
    except CrmError as exc:
        say(f"crm {name}: {object_name}: unreachable ({exc}); live schema not checked")
        return None, 0


def check_crm(settings: Settings, say: Say) -> int:
    """Validate the mapping files and, when the CRM is reachable, each mapping against its schema."""
    mappings, problems = _load(settings, say)
    if not crm_enabled(settings):
        say("crm: none (submissions stay the local record)")
        return problems
    name = settings.crm.provider
    if mappings is not None and mappings.for_submission(name, None, None) is None:
        say(f"crm {name}: no default write mapping for {name} in {settings.crm.mappings_path}")
        problems += 1
    adapter, failed = _adapter(settings, say)
    if adapter is None or mappings is None:
        return problems + failed
    for mapping in mappings.for_crm(name):
        schema, failed = _describe(adapter, name, mapping.object, say)
        problems += failed
        if schema is None:
            continue
        findings = check_against_schema(mapping, schema)
        errors = [f for f in findings if f.level == "error"]
        state = f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)" if findings else "matches"
        say(f"crm {name}: {mapping.path.name} against live {mapping.object} schema: {state}")
        for finding in findings:
            say(f"  {finding}")
        problems += len(errors)
    return problems


def explain_sample(settings: Settings, sample_path: str, say: Say) -> int:
    """Print, for the mapping a sample submission selects, every field it would write; sends nothing."""
    try:
        payload: dict[str, Any] = json.loads(Path(sample_path).read_text())
    except (OSError, ValueError) as exc:
        say(f"sample: {sample_path}: cannot read a JSON object: {exc}")
        return 1
    if not isinstance(payload, dict):
        say(f"sample: {sample_path}: expected a JSON object")
        return 1
    try:
        mappings = load_mappings(Path(settings.crm.mappings_path).expanduser())
    except MappingError:
        say("sample: fix the mapping files first")
        return 1
    crms = [settings.crm.provider] if crm_enabled(settings) else sorted({m.crm for m in mappings.mappings})
    adapter = build_adapter(settings) if crm_enabled(settings) else None
    problems = 0
    for crm in crms:
        mapping = mappings.for_submission(crm, payload.get("source"), payload.get("form_id"))
        if mapping is None:
            say(f"sample: no {crm} write mapping applies to this sample")
            problems += 1
            continue
        schema = None
        if adapter is not None:
            schema, _ = _describe(adapter, crm, mapping.object, lambda _line: None)
        result = explain(mapping, payload, schema)
        say(f"sample {sample_path} (dry run{', field lengths from the live schema' if schema else ''}):")
        say(result.render())
        problems += 0 if result.match_value else 1
    return problems


def setup_crm(settings: Settings, say: Say) -> int:
    """Create the fields every write mapping of the configured CRM needs; returns the problem count."""
    if not crm_enabled(settings):
        say('crm setup: no CRM configured (crm.provider = "none")')
        return 1
    mappings, problems = _load(settings, say)
    adapter, failed = _adapter(settings, say)
    if mappings is None or adapter is None:
        return problems + failed
    name = settings.crm.provider
    for mapping in mappings.for_crm(name):
        if not mapping.writes:
            continue
        try:
            report = adapter.ensure_fields(mapping)
        except CrmError as exc:
            say(f"crm {name}: {mapping.object}: {type(exc).__name__}: {exc}")
            problems += 1
            continue
        say(
            f"crm {name}: {mapping.path.name} ({mapping.object}): {len(report.created)} created, "
            f"{len(report.existing)} already there"
        )
        for item in report.created:
            say(f"  created {item}")
        for step in report.manual_steps:
            say(f"  TO DO by hand: {step}")
        for error in report.errors:
            say(f"  ERROR: {error}")
        problems += len(report.errors)
    return problems
