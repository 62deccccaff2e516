"""Find the line of a key path (`fields[3].to`, `match.field`) in TOML text, for error messages."""

from __future__ import annotations

import re

_ARRAY = re.compile(r"^\[\[\s*([^\]]+?)\s*\]\]")
_TABLE = re.compile(r"^\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"""^("[^"]+"|'[^']+'|[A-Za-z0-9_.\-]+)\s*=""")


def _resolve(name: str, counters: dict[str, int]) -> str:
    """Turn `overrides.fields` into `overrides[1].fields`, using the latest index of each array seen."""
    resolved = ""
    for part in (p.strip().strip("\"'") for p in name.split(".")):
        resolved = f"{resolved}.{part}" if resolved else part
        if resolved in counters:
            resolved = f"{resolved}[{counters[resolved] - 1}]"
    return resolved


def key_lines(text: str) -> dict[str, int]:
    """Map every key path and table path in the document to its 1-based line number."""
    lines: dict[str, int] = {}
    counters: dict[str, int] = {}
    prefix = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if array := _ARRAY.match(stripped):
            parent, _, last = array.group(1).rpartition(".")
            base = f"{_resolve(parent, counters)}.{last.strip()}" if parent else last.strip()
            counters[base] = counters.get(base, 0) + 1
            prefix = f"{base}[{counters[base] - 1}]"
            lines.setdefault(prefix, number)
        elif table := _TABLE.match(stripped):
            prefix = _resolve(table.group(1), counters)
            lines.setdefault(prefix, number)
        elif key := _KEY.match(stripped):
            name = key.group(1).strip("\"'")
            lines.setdefault(f"{prefix}.{name}" if prefix else name, number)
    return lines


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of `path`, or of its nearest enclosing table when the key itself is absent."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None
