"""A mapping edit before it is saved: the new text, its diff, and what the loader and the live CRM refuse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connector.mapping.check import Finding, check_against_schema
from connector.mapping.edit import RuleEdit, apply_edit
from connector.mapping.loader import MappingError, MappingProblem, load_mappings, parse_mapping
from connector.mapping.schema import ObjectSchema
from connector.tomledit import text_hash, unified_diff

Describe = Callable[[str], ObjectSchema | None]
"""The live schema of one CRM object (None: the CRM is not reachable or not configured)."""


@dataclass(frozen=True)
class Draft:
    """An edit of one mapping file, checked as start-up and the live CRM would check it."""

    path: Path
    old_text: str
    new_text: str
    problems: list[MappingProblem] = field(default_factory=list)
    refused: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    schema_checked: bool = False
    missing: tuple[str, ...] = ()
    """Refused targets that do not exist in the CRM yet (fields the console can create first)."""

    @property
    def base_hash(self) -> str:
        return text_hash(self.old_text)

    @property
    def diff(self) -> str:
        return unified_diff(self.old_text, self.new_text, self.path.name)

    @property
    def only_missing(self) -> bool:
        """Savable once the missing fields exist: every refusal is a field not created yet."""
        return (
            bool(self.refused) and not self.problems and {f.target for f in self.refused} <= set(self.missing)
        )

    @property
    def ok(self) -> bool:
        """Savable: valid for the loader, nothing new the live schema refuses, and a change at all."""
        return not self.problems and not self.refused and self.new_text != self.old_text


def draft_edit(path: Path, edit: RuleEdit, describe: Describe) -> Draft:
    """Apply the edit in memory and check it; EditError when it cannot be applied at all."""
    old = path.read_text(encoding="utf-8")
    return check_text(path, old, apply_edit(old, edit), describe)


def check_text(path: Path, old: str, new: str, describe: Describe) -> Draft:
    """Validate `new` for `path` with every other mapping file of its directory, then against the CRM.

    Only schema errors the edit introduces are refused: a field already missing before the edit is
    "Create missing fields"' job, not a reason to block an unrelated change.
    """
    try:
        load_mappings(path.parent, {path: new})
    except MappingError as exc:
        return Draft(path, old, new, problems=exc.problems)
    mapping, _ = parse_mapping(new, path)
    before, _ = parse_mapping(old, path)
    if mapping is None:  # load_mappings accepted it, so this cannot happen; keep mypy honest
        return Draft(path, old, new)
    schema = describe(mapping.object) if mapping.writes or mapping.read else None
    if schema is None:
        return Draft(path, old, new)
    findings = check_against_schema(mapping, schema)
    known = set(check_against_schema(before, schema)) if before is not None else set()
    refused = [f for f in findings if f.level == "error" and f not in known]
    warnings = [f for f in findings if f.level == "warning" and f not in known]
    missing = tuple(dict.fromkeys(f.target for f in refused if schema.get(f.target) is None))
    return Draft(path, old, new, refused=refused, warnings=warnings, schema_checked=True, missing=missing)
