"""Decode request bodies: JSON or form-encoded, with nested keys like `fields[email][value]`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from connector.intake.errors import BadPayload, UnsupportedMediaType

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
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadPayload(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise BadPayload("JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise BadPayload(f"expected a JSON object, got {type(data).__name__}")
    return data


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
