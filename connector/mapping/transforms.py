"""Named value transforms a mapping may apply, and the parser for `name` / `name(arg)` specs."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from connector.mapping.model import Transform

TRANSFORMS = ("truncate", "lowercase", "iso_date", "iso_datetime", "join")
"""Every transform name a mapping may use."""

RESULT_KIND = {"iso_date": "date", "iso_datetime": "datetime"}
"""The kind of value a transform produces when it is not text."""

_SPEC = re.compile(r"^\s*([a-z_]+)\s*(?:\((.*)\))?\s*$")


class TransformError(ValueError):
    """A transform spec or a value it cannot handle."""


def parse_transform(spec: str) -> Transform:
    """Parse `truncate`, `truncate(80)`, `join(" | ")`; raise TransformError saying what was expected."""
    found = _SPEC.match(spec) if isinstance(spec, str) else None
    if not found:
        raise TransformError(f"a transform like 'lowercase' or 'truncate(80)', got {spec!r}")
    name, raw = found.group(1), found.group(2)
    if name not in TRANSFORMS:
        raise TransformError(f"one of {', '.join(TRANSFORMS)}, got unknown transform {name!r}")
    if raw is None or raw.strip() == "":
        return Transform(name)
    raw = raw.strip()
    if name == "truncate":
        if not raw.isdigit() or int(raw) < 1:
            raise TransformError(f"truncate(N) with N a positive integer, got truncate({raw})")
        return Transform(name, int(raw))
    if name == "join":
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        return Transform(name, raw)
    raise TransformError(f"{name} without an argument, got {spec!r}")


def parse_timestamp(value: str) -> datetime:
    """Read an ISO-8601 string or epoch milliseconds/seconds as an aware UTC datetime."""
    text = value.strip()
    if re.fullmatch(r"\d{10,13}", text):
        number = int(text)
        return datetime.fromtimestamp(number / 1000 if len(text) == 13 else number, tz=UTC)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TransformError(f"an ISO-8601 date/time or epoch milliseconds, got {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _truncate(value: str, arg: str | int | None, length: int | None) -> str:
    limits = [n for n in (arg if isinstance(arg, int) else None, length) if n]
    return value[: min(limits)] if limits else value


def _iso_date(value: str) -> str:
    return parse_timestamp(value).date().isoformat()


def _iso_datetime(value: str) -> str:
    return parse_timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")


_SINGLE: dict[str, Callable[[str], str]] = {
    "lowercase": str.lower,
    "iso_date": _iso_date,
    "iso_datetime": _iso_datetime,
}


def apply_transforms(values: list[str], transforms: tuple[Transform, ...], length: int | None) -> str:
    """Combine the source values (joined, or the first non-empty one) and apply each transform in order."""
    joiner = next((t for t in transforms if t.name == "join"), None)
    present = [v for v in values if v]
    if joiner is not None:
        text = (" " if joiner.arg is None else str(joiner.arg)).join(present)
    else:
        text = present[0] if present else ""
    for transform in transforms:
        if transform.name == "join":
            continue
        if transform.name == "truncate":
            text = _truncate(text, transform.arg, length)
        else:
            text = _SINGLE[transform.name](text)
    return text
