"""Decode request bodies: JSON or form-encoded, with nested keys like `fields[email][value]`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from connector.intake.errors import BadPayload, UnsupportedMediaType

MAX_NESTING = 64
"""Deepest nesting of JSON objects and arrays accepted (levels); deeper bodies are refused with 400."""

JSON_TYPES = ("application/json", "text/plain", "text/json")
FORM_TYPES = ("application/x-www-form-urlencoded",)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """Decode a JSON object or a form-encoded body into a dict; raise BadPayload saying what is wrong."""
    kind = media_type(content_type)
    if kind in FORM_TYPES:
        return decode_form(raw)
    if kind in JSON_TYPES or kind.endswith("+json") or not kind:
        return decode_json(raw)
    raise UnsupportedMediaType(
        f"unsupported Content-Type {kind!r}: send application/json or application/x-www-form-urlencoded"
    )


def decode_json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise BadPayload("empty body: expected a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadPayload(f"body is not valid UTF-8 (byte {exc.start})") from None
    data = parse_json(text)
    if not isinstance(data, dict):
        raise BadPayload(f"expected a JSON object, got {type(data).__name__}")
    return data


def parse_json(text: str | bytes) -> Any:
    """Any JSON value, at most MAX_NESTING levels deep; raise BadPayload saying what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadPayload(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise BadPayload(f"JSON nested deeper than {MAX_NESTING} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadPayload(f"not JSON: {exc}") from None
    if nesting(data) > MAX_NESTING:
        raise BadPayload(f"JSON nested deeper than {MAX_NESTING} levels")
    return data


def nesting(value: Any) -> int:
    """How many levels of objects and arrays `value` has (without recursion, so any depth is safe)."""
    if isinstance(value, dict) and not any(isinstance(v, (dict, list)) for v in value.values()):
        return 1  # a flat object, as nearly every webhook body is
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def decode_form(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadPayload(f"form body is not valid UTF-8 (byte {exc.start})") from None
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text.strip()), max_num_fields=5000
        )
    except ValueError as exc:
        raise BadPayload(f"malformed form-encoded body: {exc}") from None
    if not pairs:
        raise BadPayload("empty body: expected form fields")
    return nest_pairs(pairs)


def nest_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn `a[b][c]=v` keys into nested dicts (`a[]=v` appends to a list); plain keys stay flat."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split_key(key)
        if len(parts) > MAX_NESTING:
            raise BadPayload(f"form key {key[:40]!r}... nested deeper than {MAX_NESTING} levels")
        node: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if isinstance(node, list):
                node.append(value if last else {})
                node = node[-1]
                continue
            if last:
                existing = node.get(part)
                if isinstance(existing, list):
                    existing.append(value)
                elif part not in node or not isinstance(existing, dict):
                    node[part] = value
                continue
            wants_list = parts[index + 1] == ""
            child = node.get(part)
            if not isinstance(child, (dict, list)):
                child = [] if wants_list else {}
                node[part] = child
            node = child
    return result


def _split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket or not head or not rest.endswith("]"):
        return [key]
    return [head, *rest[:-1].split("][")]
