"""Add, change or remove one `[stages.rules.<name>]` table of the config file, comments kept."""

from __future__ import annotations

import re
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from connector.tomledit import EditError, append_after, remove_table, take_tail

ACTIONS = ("add", "change", "remove")

RULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A rule name is a bare TOML key: it names the rule in stage changes and the ledger."""

KEY_ORDER = (
    "crm",
    "object",
    "pipeline",
    "stage",
    "event",
    "custom_event_name",
    "fire",
    "amount_field",
    "currency_field",
    "plan_id",
    "plan_id_field",
)
"""Every key of a stage rule (connector.events.stage_rules), in the order the console writes them."""


def _clean(rule: dict[str, Any]) -> dict[str, str]:
    unknown = sorted(set(rule) - set(KEY_ORDER))
    if unknown:
        raise EditError(f"unknown stage rule key {unknown[0]!r}; expected one of {', '.join(KEY_ORDER)}")
    cleaned = {k: str(rule[k]).strip() for k in KEY_ORDER if rule.get(k) not in (None, "")}
    return {k: v for k, v in cleaned.items() if v}


def _rules(doc: tomlkit.TOMLDocument) -> Table:
    stages = doc.get("stages")
    if stages is None:
        doc.append("stages", tomlkit.table(is_super_table=True))
        stages = doc["stages"]
    if not isinstance(stages, Table):
        raise EditError("stages: expected a table")
    rules = stages.get("rules")
    if rules is None:
        stages.append("rules", tomlkit.table(is_super_table=True))
        rules = stages["rules"]
    if not isinstance(rules, Table):
        raise EditError("stages.rules: expected a table of named rules")
    return rules


def apply_rule_edit(text: str, action: str, name: str, rule: dict[str, Any] | None = None) -> str:
    """The config text with rule `name` added, changed (every key set as given) or removed."""
    if action not in ACTIONS:
        raise EditError(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
    if not RULE_NAME.fullmatch(name or ""):
        raise EditError(f"name: 1-64 letters, digits, _ or -, got {name!r}")
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise EditError(f"the config file is not valid TOML: {exc}") from None
    rules = _rules(doc)
    exists = name in rules
    if action == "add" and exists:
        raise EditError(f"stages.rules.{name}: a rule of that name exists; pick another name")
    if action != "add" and not exists:
        raise EditError(f"stages.rules.{name}: no such rule")
    if action == "remove":
        remove_table(rules, name)
        return tomlkit.dumps(doc)
    wanted = _clean(rule or {})
    if action == "add":
        table = tomlkit.table()
        for key, value in wanted.items():
            table[key] = value
        tables = [v for v in rules.values() if isinstance(v, Table)]
        append_after(tables[-1] if tables else rules, table)
        rules.append(name, table)
        return tomlkit.dumps(doc)
    current = rules[name]
    if not isinstance(current, Table):
        raise EditError(f"stages.rules.{name}: expected a table")
    tail = take_tail(current)  # keys added go before the comments that introduce what follows
    for key in KEY_ORDER:
        if key not in wanted and key in current:
            del current[key]
        elif key in wanted and current.get(key) != wanted[key]:
            current[key] = wanted[key]
    current.value.body.extend(tail)
    return tomlkit.dumps(doc)
