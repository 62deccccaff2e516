"""Edit one field rule of a mapping file with its comments and order kept (saving: connector.tomledit)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT

from connector.tomledit import EditError, append_after, take_tail

log = logging.getLogger(__name__)

ACTIONS = ("add", "change", "remove")
"""What an edit does to the `[[fields]]` array."""

EDITABLE_KEYS = ("from", "value", "to", "policy", "transforms", "default", "group")
"""Keys of a field rule an edit sets; a key left empty is removed from the rule."""


@dataclass(frozen=True)
class RuleEdit:
    """Add a rule, change the rule at `index` of `[[fields]]`, or remove it."""

    action: str
    index: int | None = None
    rule: dict[str, Any] = field(default_factory=dict)


def _clean(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule's keys in file order, empty values dropped (an empty key is a key removed)."""
    result: dict[str, Any] = {}
    for key in EDITABLE_KEYS:
        value = rule.get(key)
        if isinstance(value, str):
            value = value.strip()
        if isinstance(value, list):
            value = [v.strip() if isinstance(v, str) else v for v in value]
            value = [v for v in value if v != ""]
        if value not in (None, "", []):
            result[key] = value
    unknown = sorted(set(rule) - set(EDITABLE_KEYS))
    if unknown:
        raise EditError(f"unknown rule key {unknown[0]!r}; expected one of {', '.join(EDITABLE_KEYS)}")
    return result


def _fields(doc: tomlkit.TOMLDocument) -> AoT:
    found = doc.get("fields")
    if found is None:
        doc.append("fields", tomlkit.aot())
        found = doc["fields"]
    if not isinstance(found, AoT):
        raise EditError("fields: expected an array of tables ([[fields]])")
    return found


def apply_edit(text: str, edit: RuleEdit) -> str:
    """The mapping text after the edit; comments, blank lines and key order elsewhere are unchanged."""
    if edit.action not in ACTIONS:
        raise EditError(f"action: expected one of {', '.join(ACTIONS)}, got {edit.action!r}")
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise EditError(f"the file is not valid TOML: {exc}") from None
    rules = _fields(doc)
    if edit.action != "add" and (edit.index is None or not 0 <= edit.index < len(rules)):
        raise EditError(f"fields[{edit.index}]: no such rule (the file has {len(rules)})")
    if edit.action == "remove":
        assert edit.index is not None
        tail = take_tail(rules[edit.index])
        if edit.index > 0:
            previous = rules[edit.index - 1]
            take_tail(previous)
            previous.value.body.extend(tail)
        del rules[edit.index]
        return tomlkit.dumps(doc)
    wanted = _clean(edit.rule)
    if edit.action == "add":
        table = tomlkit.table()
        for key, value in wanted.items():
            table[key] = value
        append_after(rules[-1] if len(rules) else None, table)
        rules.append(table)
        return tomlkit.dumps(doc)
    assert edit.index is not None
    table = rules[edit.index]
    tail = take_tail(table)  # keys added go before the comments that introduce what follows
    for key in EDITABLE_KEYS:
        if key not in wanted and key in table:
            del table[key]
        elif key in wanted and table.get(key) != wanted[key]:
            table[key] = wanted[key]
    table.value.body.extend(tail)
    return tomlkit.dumps(doc)
