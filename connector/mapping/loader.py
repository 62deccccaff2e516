"""Load mapping TOML files, validating everything: each problem names file, line, key and expectation."""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.mapping.lines import key_lines, line_of
from connector.mapping.model import (
    DEAL_OBJECTS,
    DEFAULT_ONCE_GROUP,
    POLICIES,
    READ_NAMES,
    VALUE_NAMES,
    FieldRule,
    Mapping,
    MappingSet,
    Match,
    Override,
    Transform,
)
from connector.mapping.transforms import TransformError, parse_transform

log = logging.getLogger(__name__)

CRMS = ("salesforce", "hubspot")
"""CRMs a mapping may target."""

TOP_KEYS = ("crm", "object", "description", "match", "when", "fields", "overrides", "read")
RULE_KEYS = ("from", "value", "to", "policy", "transforms", "default", "group")
OVERRIDE_KEYS = ("source", "form_id", "fields", "skip")
NOT_MAPPABLE = {
    "crm_object_id": "crm_object_id is assigned by the CRM: it is recorded in the ledger next to the "
    "event_id "
    "and is already on the record (Salesforce Id, HubSpot hs_object_id); do not map it",
}


@dataclass(frozen=True)
class MappingProblem:
    """One validation problem: where it is and what was expected."""

    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '(file)'}: {self.message}"


class MappingError(ValueError):
    """One or more mapping files are invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[MappingProblem]):
        self.problems = problems
        super().__init__("invalid mapping:\n" + "\n".join(f"  {p}" for p in problems))


class _Collector:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = key_lines(text)
        self.problems: list[MappingProblem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(MappingProblem(str(self.path), key, message, line_of(self.lines, key)))


def _suggest(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_keys(c: _Collector, table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            path = f"{where}.{key}" if where else key
            c.add(path, f"unknown key {key!r}; expected one of {', '.join(allowed)}{_suggest(key, allowed)}")


def _value_name(c: _Collector, key: str, name: Any, allowed: tuple[str, ...] = VALUE_NAMES) -> bool:
    if not isinstance(name, str):
        c.add(key, f"a value name (string), got {name!r}")
        return False
    if name in NOT_MAPPABLE:
        c.add(key, NOT_MAPPABLE[name])
        return False
    if name not in allowed:
        c.add(
            key,
            f"unknown attribution value {name!r}; expected an attribution field, a contact field, "
            f"source or form_id{_suggest(name, allowed)}",
        )
        return False
    return True


def _rule(c: _Collector, raw: Any, key: str) -> FieldRule | None:
    if not isinstance(raw, dict):
        c.add(key, f"a table with from/value, to and policy, got {raw!r}")
        return None
    _unknown_keys(c, raw, RULE_KEYS, key)
    ok = True
    target = raw.get("to")
    if not isinstance(target, str) or not target.strip():
        c.add(f"{key}.to", "the CRM field name to write (a non-empty string)")
        ok = False
    policy = raw.get("policy")
    if policy not in POLICIES:
        c.add(f"{key}.policy", f"one of {', '.join(POLICIES)}, got {policy!r}")
        ok = False
    transforms: list[Transform] = []
    specs = raw.get("transforms", [])
    if not isinstance(specs, list):
        c.add(f"{key}.transforms", f"a list of transform names, got {specs!r}")
        specs, ok = [], False
    for index, spec in enumerate(specs):
        try:
            transforms.append(parse_transform(spec))
        except TransformError as exc:
            c.add(f"{key}.transforms[{index}]", str(exc))
            ok = False
    has_join = any(t.name == "join" for t in transforms)
    sources: tuple[str, ...] = ()
    constant = raw.get("value")
    if ("from" in raw) == ("value" in raw):
        c.add(key, "exactly one of `from` (a value name) or `value` (a constant string)")
        ok = False
    elif "from" in raw:
        names = raw["from"] if isinstance(raw["from"], list) else [raw["from"]]
        if isinstance(raw["from"], list) and not has_join:
            c.add(f"{key}.from", "a single value name, or a list of names together with the join transform")
            ok = False
        if not names:
            c.add(f"{key}.from", "at least one value name")
            ok = False
        ok = all([_value_name(c, f"{key}.from", n) for n in names]) and ok
        sources = tuple(str(n) for n in names)
    elif not isinstance(constant, str):
        c.add(f"{key}.value", f"a constant string, got {constant!r}")
        ok = False
    default = raw.get("default")
    if default is not None and not isinstance(default, str):
        c.add(f"{key}.default", f"a string used when the value is empty, got {default!r}")
        ok = False
    group = raw.get("group")
    if group is not None and (policy != "once" or not isinstance(group, str)):
        c.add(f"{key}.group", 'a group name (string), only with policy = "once"')
        ok = False
    if not ok or not isinstance(target, str) or not isinstance(policy, str):
        return None  # ok implies both are strings; the checks narrow their types
    return FieldRule(
        target=target.strip(),
        policy=policy,
        sources=sources,
        constant=constant if "value" in raw else None,
        default=default,
        transforms=tuple(transforms),
        group=(group or DEFAULT_ONCE_GROUP) if policy == "once" else None,
    )


def _rules(c: _Collector, raw: Any, key: str, crm: str) -> list[FieldRule]:
    if not isinstance(raw, list):
        c.add(key, f"an array of tables ([[{key}]]), got {type(raw).__name__}")
        return []
    rules: list[FieldRule] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        rule = _rule(c, item, f"{key}[{index}]")
        target = item.get("to") if isinstance(item, dict) else None
        if not isinstance(target, str):
            continue
        folded = target.strip().lower() if crm == "salesforce" else target.strip()
        if folded in seen:
            c.add(
                f"{key}[{index}].to",
                f"a target not already written; {target!r} is also the target of {key}[{seen[folded]}]",
            )
            continue
        seen[folded] = index
        if rule is not None:
            rules.append(rule)
    return rules


def _string_list(c: _Collector, raw: Any, key: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        c.add(key, f"a string or a list of strings, got {raw!r}")
        return ()
    return tuple(raw)


def _overrides(c: _Collector, raw: Any, crm: str, targets: set[str]) -> list[Override]:
    if not isinstance(raw, list):
        c.add("overrides", "an array of tables ([[overrides]])")
        return []
    result = []
    for index, item in enumerate(raw):
        key = f"overrides[{index}]"
        if not isinstance(item, dict):
            c.add(key, "a table with source and/or form_id")
            continue
        _unknown_keys(c, item, OVERRIDE_KEYS, key)
        source, form_id = item.get("source"), item.get("form_id")
        if source is None and form_id is None:
            c.add(key, "`source` and/or `form_id` saying which submissions this override applies to")
        for name, value in (("source", source), ("form_id", form_id)):
            if value is not None and not isinstance(value, str):
                c.add(f"{key}.{name}", f"a string, got {value!r}")
        skip = _string_list(c, item.get("skip"), f"{key}.skip")
        for target in skip:
            if target not in targets:
                c.add(f"{key}.skip", f"targets the base mapping writes; {target!r} is not one of them")
        rules = _rules(c, item.get("fields", []), f"{key}.fields", crm)
        result.append(
            Override(
                source if isinstance(source, str) else None,
                form_id if isinstance(form_id, str) else None,
                tuple(rules),
                skip,
            )
        )
    return result


def _match(c: _Collector, raw: Any) -> Match | None:
    if not isinstance(raw, dict):
        c.add("match", "a [match] table with field (CRM field) and value (our value name)")
        return None
    _unknown_keys(c, raw, ("field", "value", "external_id"), "match")
    field, value = raw.get("field"), raw.get("value", "email")
    ok = True
    if not isinstance(field, str) or not field:
        c.add(
            "match.field",
            "the CRM field that identifies a person (e.g. Email, email, or a unique external id)",
        )
        ok = False
    ok = _value_name(c, "match.value", value) and ok
    external_id = raw.get("external_id", False)
    if not isinstance(external_id, bool):
        c.add("match.external_id", f"true or false, got {external_id!r}")
        ok = False
    return Match(field, value, external_id) if ok and isinstance(field, str) else None


def _read(c: _Collector, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        c.add("read", 'a [read] table: our name = "CRM field"')
        return {}
    result = {}
    for name, target in raw.items():
        if name not in READ_NAMES:
            c.add(
                f"read.{name}",
                f"an attribution, contact or deal name (stage, amount, currency, ...), "
                f"got {name!r}{_suggest(name, READ_NAMES)}",
            )
        elif not isinstance(target, str) or not target:
            c.add(f"read.{name}", f"a CRM field name, got {target!r}")
        else:
            result[name] = target
    return result


def parse_mapping(text: str, path: Path) -> tuple[Mapping | None, list[MappingProblem]]:
    """Parse and validate one mapping document; return the mapping (None if invalid) and all problems."""
    c = _Collector(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        c.problems.append(
            MappingProblem(str(path), "", f"valid TOML: {exc}", int(found[1]) if found else None)
        )
        return None, c.problems
    _unknown_keys(c, data, TOP_KEYS, "")
    crm, object_name = data.get("crm"), data.get("object")
    if crm not in CRMS:
        c.add("crm", f"one of {', '.join(CRMS)}, got {crm!r}")
    if not isinstance(object_name, str) or not object_name:
        c.add("object", "the CRM object name (Lead, Contact, Opportunity, contacts, deals)")
    crm_name = crm if isinstance(crm, str) else ""
    rules = _rules(c, data.get("fields", []), "fields", crm_name)
    overrides = _overrides(c, data.get("overrides", []), crm_name, {r.target for r in rules})
    match = _match(c, data["match"]) if "match" in data else None
    deals = bool(object_name) and DEAL_OBJECTS.get(crm_name) == object_name
    if "fields" in data and "match" not in data and not deals:
        c.add("match", "a [match] table: a mapping that writes must say how people are matched")
    read = _read(c, data["read"]) if "read" in data else {}
    when = data.get("when", {})
    if not isinstance(when, dict):
        c.add("when", "a [when] table with sources and/or form_ids")
        when = {}
    _unknown_keys(c, when, ("sources", "form_ids"), "when")
    sources = _string_list(c, when.get("sources"), "when.sources")
    form_ids = _string_list(c, when.get("form_ids"), "when.form_ids")
    if not rules and not read and not c.problems:
        c.add("", "at least one [[fields]] entry or a [read] table")
    if c.problems or not isinstance(object_name, str):  # a bad object is always a problem
        return None, c.problems
    mapping = Mapping(
        crm_name, object_name, path, match, tuple(rules), tuple(overrides), read, sources, form_ids
    )
    return mapping, []


def load_mapping(path: str | Path) -> Mapping:
    """Load one mapping file; raise MappingError listing every problem."""
    path = Path(path)
    mapping, problems = parse_mapping(path.read_text(encoding="utf-8"), path)
    if problems or mapping is None:
        raise MappingError(problems)
    return mapping


def mapping_paths(location: str | Path) -> list[Path]:
    """The mapping files of a directory (every `*.toml`, sorted), or the one file named."""
    location = Path(location)
    return sorted(location.glob("*.toml")) if location.is_dir() else [location]


def files_fingerprint(location: str | Path) -> tuple[tuple[str, int, int, int], ...]:
    """What changes when a mapping file is written, added or removed: name, inode, size, mtime (ns)."""
    found = []
    for path in mapping_paths(location):
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((path.name, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(found)


def load_mappings(location: str | Path, texts: dict[Path, str] | None = None) -> MappingSet:
    """Load every `*.toml` in a directory (or one file); raise MappingError listing problems of all files.

    `texts` replaces the content of some files (an edit validated before it is written).
    """
    location = Path(location)
    paths = mapping_paths(location)
    texts = texts or {}
    mappings: list[Mapping] = []
    problems: list[MappingProblem] = []
    for path in paths:
        text = texts[path] if path in texts else path.read_text(encoding="utf-8")
        mapping, found = parse_mapping(text, path)
        problems += found
        if mapping is not None:
            mappings.append(mapping)
    defaults: dict[str, Mapping] = {}
    for mapping in mappings:
        if (
            mapping.writes
            and not mapping.for_deals
            and not mapping.when_sources
            and not mapping.when_form_ids
        ):
            if mapping.crm in defaults:
                problems.append(
                    MappingProblem(
                        str(mapping.path),
                        "when",
                        f"one default write mapping per CRM; {defaults[mapping.crm].path} is already the "
                        "default "
                        f"for {mapping.crm}: add [when] sources/form_ids to one of them",
                    )
                )
            defaults.setdefault(mapping.crm, mapping)
    if not paths:
        problems.append(MappingProblem(str(location), "", "a directory with *.toml mapping files"))
    if problems:
        raise MappingError(problems)
    log.info("loaded %d mappings from %s", len(mappings), location)
    return MappingSet(tuple(mappings))
