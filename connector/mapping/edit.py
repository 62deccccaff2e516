"""Edit one field rule of a mapping file with its comments and order kept, and save it with a backup.

An edit is previewed first (the new text, a unified diff, the loader's problems); saving refuses a file
that changed since the preview, keeps the previous version and replaces the file atomically.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Table, Whitespace

log = logging.getLogger(__name__)

ACTIONS = ("add", "change", "remove")
"""What an edit does to the `[[fields]]` array."""

EDITABLE_KEYS = ("from", "value", "to", "policy", "transforms", "default", "group")
"""Keys of a field rule an edit sets; a key left empty is removed from the rule."""


class EditError(ValueError):
    """The edit cannot be applied (unknown rule, unreadable file); the message says why."""


class ConflictError(EditError):
    """The file changed since the edit was previewed; preview again."""


@dataclass(frozen=True)
class RuleEdit:
    """Add a rule, change the rule at `index` of `[[fields]]`, or remove it."""

    action: str
    index: int | None = None
    rule: dict[str, Any] = field(default_factory=dict)


def text_hash(text: str) -> str:
    """The version of a file's text an edit was made against."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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


def _tail(table: Table) -> list[tuple[Any, Any]]:
    """Take the comments and blank lines that end a table (they introduce what follows it)."""
    body = table.value.body
    tail: list[tuple[Any, Any]] = []
    while body and body[-1][0] is None:
        tail.insert(0, body.pop())
    return tail


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
        tail = _tail(rules[edit.index])
        if edit.index > 0:
            previous = rules[edit.index - 1]
            _tail(previous)
            previous.value.body.extend(tail)
        del rules[edit.index]
        return tomlkit.dumps(doc)
    wanted = _clean(edit.rule)
    if edit.action == "add":
        table = tomlkit.table()
        for key, value in wanted.items():
            table[key] = value
        if len(rules):
            last = rules[-1]
            table.value.body.extend(_tail(last))
            last.value.body.append((None, Whitespace("\n")))
        rules.append(table)
        return tomlkit.dumps(doc)
    assert edit.index is not None
    table = rules[edit.index]
    for key in EDITABLE_KEYS:
        if key not in wanted and key in table:
            del table[key]
        elif key in wanted and table.get(key) != wanted[key]:
            table[key] = wanted[key]
    return tomlkit.dumps(doc)


def unified_diff(old: str, new: str, name: str) -> str:
    """The change as a reviewer reads it (`a/<name>` -> `b/<name>`, three lines of context)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return "".join(lines)


def backup_path(versions_dir: Path, path: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return versions_dir / f"{path.name}.{stamp}.bak"


def save_text(path: Path, new_text: str, expected_hash: str, versions_dir: Path) -> Path:
    """Replace the file atomically after keeping its current text in `versions_dir`; return the backup.

    ConflictError when the file no longer has the text the edit was made against.
    """
    current = path.read_text(encoding="utf-8")
    if text_hash(current) != expected_hash:
        raise ConflictError(f"{path.name} changed since this edit was previewed; review the new version")
    versions_dir.mkdir(parents=True, exist_ok=True)
    backup = backup_path(versions_dir, path)
    backup.write_text(current, encoding="utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new_text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("saved %s (previous version kept as %s)", path, backup)
    return backup
