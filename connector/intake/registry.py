"""The explicit registry of webhook sources, keyed by (kind, name); `connector.sources` fills it."""

from __future__ import annotations

from typing import Any

from connector.intake.base import Source

_SOURCES: dict[tuple[str, str], Source[Any]] = {}


def register(cls: type[Source[Any]]) -> type[Source[Any]]:
    """Class decorator: make a source reachable at /webhooks/<kind>/<name>."""
    key = (cls.kind, cls.name)
    if key in _SOURCES:
        raise ValueError(f"source {cls.kind}/{cls.name} registered twice")
    _SOURCES[key] = cls()
    return cls


def find(kind: str, name: str) -> Source[Any] | None:
    return _SOURCES.get((kind, name))


def by_name(name: str) -> Source[Any]:
    """The source a stored receipt names (names are unique across kinds)."""
    for (_kind, source_name), source in _SOURCES.items():
        if source_name == name:
            return source
    raise KeyError(f"no source named {name!r}")


def all_sources() -> list[Source[Any]]:
    return list(_SOURCES.values())
