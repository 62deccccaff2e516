"""The explicit registry of webhook sources, keyed by (kind, name)."""

from __future__ import annotations

from connector.intake.base import Source

_SOURCES: dict[tuple[str, str], Source] = {}


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make a source reachable at /webhooks/<kind>/<name>."""
    key = (cls.kind, cls.name)
    if key in _SOURCES:
        raise ValueError(f"source {cls.kind}/{cls.name} registered twice")
    _SOURCES[key] = cls()
    return cls


def find(kind: str, name: str) -> Source | None:
    _load_all()
    return _SOURCES.get((kind, name))


def by_name(name: str) -> Source:
    """The source a stored receipt names (names are unique across kinds)."""
    _load_all()
    for (_kind, source_name), source in _SOURCES.items():
        if source_name == name:
            return source
    raise KeyError(f"no source named {name!r}")


def all_sources() -> list[Source]:
    _load_all()
    return list(_SOURCES.values())


def _load_all() -> None:
    from connector.intake import sources  # noqa: F401  (importing registers every source)
    from connector.stages import sources as stage_sources  # noqa: F401  (the CRM notifiers)
