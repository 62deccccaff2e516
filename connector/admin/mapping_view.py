"""What the Mappings page shows: each mapping file's rules beside the live CRM field they write.

Also the rule form's parsing: the form sends text, the mapping file wants lists and absent keys.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.mapping import (
    Finding,
    Mapping,
    MappingError,
    MappingProblem,
    check_against_schema,
    files_fingerprint,
    load_mappings,
    parse_mapping,
)
from connector.mapping.loader import mapping_paths
from connector.mapping.schema import FieldSchema, ObjectSchema


@dataclass(frozen=True)
class RuleRow:
    """One line of a mapping's table: the rule, where it applies, the live field and what is wrong."""

    index: int | None
    """Position in `[[fields]]`; None for an override's rule (edited in the file)."""
    scope: str
    target: str
    source: str
    policy: str
    transforms: str
    default: str
    live: FieldSchema | None
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "warning"]

    @property
    def writable(self) -> str:
        if self.live is None:
            return ""
        if self.live.createable and self.live.updateable:
            return "yes"
        if self.live.createable:
            return "on create only"
        if self.live.updateable:
            return "on update only"
        return "no"


@dataclass
class MappingView:
    """One mapping file on the page."""

    name: str
    path: Path
    mapping: Mapping | None
    problems: list[MappingProblem] = field(default_factory=list)
    rows: list[RuleRow] = field(default_factory=list)
    other_findings: list[Finding] = field(default_factory=list)
    live_error: str | None = None
    live_checked: bool = False
    folded: bool = False
    """Shown as one line with a link (another CRM's file): the page stays short."""

    @property
    def error_count(self) -> int:
        return (
            len(self.problems)
            + sum(len(r.errors) for r in self.rows)
            + sum(f.level == "error" for f in self.other_findings)
        )

    @property
    def missing(self) -> int:
        return sum(1 for r in self.rows if self.live_checked and r.live is None)


@dataclass(frozen=True)
class Parsed:
    """One mapping file read and validated: its text, its TOML data (None: not TOML), the mapping."""

    text: str
    data: dict[str, Any] | None
    mapping: Mapping | None
    problems: list[MappingProblem]


_parsed: dict[Path, tuple[tuple[int, int, int], Parsed]] = {}
_sets: dict[Path, tuple[Any, list[str]]] = {}


def parsed(path: Path) -> Parsed:
    """The file parsed, kept until it changes on disk (a page parses each file once, not per view)."""
    st = path.stat()
    seen = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _parsed.get(path)
    if cached is not None and cached[0] == seen:
        return cached[1]
    text = path.read_text(encoding="utf-8")
    mapping, problems = parse_mapping(text, path)
    try:
        data: dict[str, Any] | None = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        data = None
    result = Parsed(text, data, mapping, problems)
    _parsed[path] = (seen, result)
    return result


def set_problems(directory: Path) -> list[str]:
    """What start-up refuses across the files (one default per CRM), beyond each file's own problems."""
    seen = files_fingerprint(directory)
    cached = _sets.get(directory)
    if cached is not None and cached[0] == seen:
        return cached[1]
    try:
        load_mappings(directory)
        found: list[str] = []
    except MappingError as exc:
        own = {str(p) for path in mapping_files(directory) for p in parsed(path).problems}
        found = [str(p) for p in exc.problems if str(p) not in own]
    _sets[directory] = (seen, found)
    return found


def mapping_files(directory: Path) -> list[Path]:
    return [p for p in mapping_paths(directory) if p.is_file()]


def find_file(directory: Path, name: str) -> Path | None:
    """The mapping file called `name` in the directory (never a path outside it)."""
    return next((p for p in mapping_files(directory) if p.name == name), None)


def _source(raw: dict[str, Any]) -> str:
    if "value" in raw:
        return f"constant {raw['value']!r}"
    names = raw.get("from", "")
    return " + ".join(names) if isinstance(names, list) else str(names)


def _rows(data: dict[str, Any], findings: list[Finding], schema: ObjectSchema | None) -> list[RuleRow]:
    by_target: dict[str, list[Finding]] = {}
    for finding in findings:
        by_target.setdefault(finding.target.lower(), []).append(finding)
    rows: list[RuleRow] = []

    def add(raw: Any, index: int | None, scope: str) -> None:
        if not isinstance(raw, dict):
            return
        target = str(raw.get("to", ""))
        transforms = raw.get("transforms", [])
        rows.append(
            RuleRow(
                index,
                scope,
                target,
                _source(raw),
                str(raw.get("policy", "")),
                ", ".join(map(str, transforms)) if isinstance(transforms, list) else str(transforms),
                str(raw.get("default", "")),
                schema.get(target) if schema and target else None,
                tuple(by_target.get(target.lower(), ())),
            )
        )

    fields = data.get("fields", [])
    for index, raw in enumerate(fields if isinstance(fields, list) else []):
        add(raw, index, "")
    overrides = data.get("overrides", [])
    for override in overrides if isinstance(overrides, list) else []:
        if not isinstance(override, dict):
            continue
        scope = ", ".join(f"{k} = {override[k]}" for k in ("source", "form_id") if k in override)
        for raw in override.get("fields", []) if isinstance(override.get("fields"), list) else []:
            add(raw, None, scope)
    return rows


def view(path: Path, schema: ObjectSchema | None, live_error: str | None = None) -> MappingView:
    """The file's rules and problems, beside the live schema when there is one."""
    found = parsed(path)
    result = MappingView(path.name, path, found.mapping, found.problems, live_error=live_error)
    if found.data is None:
        return result
    findings = check_against_schema(found.mapping, schema) if found.mapping and schema else []
    result.rows = _rows(found.data, findings, schema)
    result.live_checked = schema is not None
    shown = {r.target.lower() for r in result.rows}
    result.other_findings = [f for f in findings if f.target.lower() not in shown]
    return result


def split_list(text: str) -> list[str]:
    """Comma-separated items; commas inside quotes or parentheses stay (`join(", ")`, `truncate(80)`)."""
    items, current, depth, quote = [], "", 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        current += char
    items.append(current.strip())
    return [i for i in items if i]


def rule_from_form(form: Any) -> dict[str, Any]:
    """The rule a form describes: `from` (one name, or several for join) or a constant `value`."""
    rule: dict[str, Any] = {}
    if form.get("kind") == "value":
        rule["value"] = form.get("value", "")
    else:
        names = split_list(form.get("from", ""))
        rule["from"] = names[0] if len(names) == 1 else names
    for key in ("to", "policy", "default", "group"):
        rule[key] = form.get(key, "")
    rule["transforms"] = split_list(form.get("transforms", ""))
    return rule


def form_from_rule(raw: dict[str, Any]) -> dict[str, str]:
    """The form's text fields for a rule read from the file."""
    names = raw.get("from", "")
    transforms = raw.get("transforms", [])
    return {
        "kind": "value" if "value" in raw else "from",
        "from": ", ".join(names) if isinstance(names, list) else str(names),
        "value": str(raw.get("value", "")),
        "to": str(raw.get("to", "")),
        "policy": str(raw.get("policy", "")),
        "transforms": ", ".join(map(str, transforms)) if isinstance(transforms, list) else "",
        "default": str(raw.get("default", "")),
        "group": str(raw.get("group", "")),
    }
