"""The report's facts: one narrow row per submission (report_facts, migration 0013) and its profile.

A profile (report_profiles) is a submission's kind, form and the attribution columns of both touches; the
few hundred distinct ones stand for a million submissions, so the report groups facts by profile id and
folds profiles into groups afterwards. Each fact keeps, per lens (a grouping under a touch model), when the
same person last submitted into the same group before it (`p_<lens>`, epoch seconds): a cell's leads are
then the cell's facts whose previous one lies before the cell began, a count instead of COUNT(DISTINCT).

`sent` lists the conversions sent for the submission (`type:custom` items, sorted, comma separated); the
conversions' triggers keep it (migration 0013), `SENT_SQL` is the one expression both use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from connector.store.report_columns import TOUCH_COLUMNS, TOUCHES

ATTRS = tuple(TOUCH_COLUMNS)
"""The attribution columns a touch has (channel, ai_source, UTMs, landing page)."""

DIMS = ("kind", "form_id", *(f"{t}_{a}" for t in TOUCHES for a in ATTRS))
"""A profile's columns."""

BY = (*ATTRS, "form")
"""What the report groups by (connector.report.query.GROUPS)."""


def lens_sides(by: str, touch: str) -> tuple[str, ...]:
    """The prev columns of a lens: one per side a submission can count on (two for an AI touch model)."""
    if touch == "any":
        return (f"p_any_{by}",) if by == "form" else (f"p_any_{by}_first", f"p_any_{by}_latest")
    return ("p_form",) if by == "form" else (f"p_{touch}_{by}",)


PREV_COLUMNS = tuple(
    dict.fromkeys(c for by in BY for touch in ("first", "latest", "any") for c in lens_sides(by, touch))
)
"""Every prev column of a fact."""


def is_ai(value: str | None) -> bool:
    return value is not None and value != "none"


def members(profile: Mapping[str, Any], by: str, touch: str) -> list[tuple[str, str | None]]:
    """(prev column, group value) for each group a submission of `profile` counts in under the lens.

    An AI touch model counts a submission once in each group one of its AI touches had (the latest
    touch only where it differs from an AI first touch's)."""
    sides = lens_sides(by, touch)
    if touch != "any":
        column = "form_id" if by == "form" else f"{touch}_{by}"
        return [(sides[0], profile[column])]
    first_ai, latest_ai = is_ai(profile["first_ai_source"]), is_ai(profile["latest_ai_source"])
    if by == "form":
        return [(sides[0], profile["form_id"])] if first_ai or latest_ai else []
    found = []
    if first_ai:
        found.append((sides[0], profile[f"first_{by}"]))
    if latest_ai and not (first_ai and profile[f"latest_{by}"] == profile[f"first_{by}"]):
        found.append((sides[1], profile[f"latest_{by}"]))
    return found


def profile_key(values: Mapping[str, Any]) -> str:
    """The profile's unique key: a digest of its columns (NULL-safe, unlike a unique constraint)."""
    text = "\x1f".join("\x00" if values[d] is None else str(values[d]) for d in DIMS)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def epoch(value: datetime) -> int:
    """Whole seconds since 1970 (UTC); a naive value is UTC (SQLite)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(aware.timestamp() // 1)


@lru_cache(maxsize=4096)
def _memberships(values: tuple[Any, ...]) -> tuple[tuple[str, tuple[str, str, Any]], ...]:
    """(prev column, (grouping, lens, group value)) of every lens, for a profile's values (DIMS order)."""
    profile = dict(zip(DIMS, values, strict=True))
    found: list[tuple[str, tuple[str, str, Any]]] = []
    for by in BY:
        for touch in ("first", "latest", "any"):
            lens = "any" if touch == "any" else ("form" if by == "form" else touch)
            found.extend((column, (by, lens, value)) for column, value in members(profile, by, touch))
    return tuple(found)


def prevs(facts: Sequence[tuple[int, int, Mapping[str, Any]]]) -> dict[int, dict[str, int | None]]:
    """Submission id -> prev column -> the person's latest earlier `at` in the same group (or None),
    for one person's facts given as (submission id, at, profile). Earlier means by (at, id)."""
    result: dict[int, dict[str, int | None]] = {}
    last: dict[tuple[str, str, Any], int] = {}
    for sid, at, profile in sorted(facts, key=lambda f: (f[1], f[0])):
        seen = _memberships(tuple(profile[d] for d in DIMS))
        row: dict[str, int | None] = dict.fromkeys(PREV_COLUMNS)
        for column, key in seen:
            row[column] = last.get(key)
        for _column, key in seen:
            last[key] = at
        result[sid] = row
    return result


def sent_sql(dialect: str, submission_id: str) -> str:
    """SQL: the `sent` list of the submission whose id is the expression `submission_id` ('': none)."""
    item = "c.event_type || ':' || c.custom_event_name"
    where = f"c.submission_id = {submission_id} AND c.status = 'sent'"
    if dialect == "postgresql":
        listed = f"(SELECT string_agg({item}, ',' ORDER BY {item}) FROM conversions c WHERE {where})"
    else:
        ordered = f"SELECT {item} AS k FROM conversions c WHERE {where} ORDER BY k"
        listed = f"(SELECT group_concat(k, ',') FROM ({ordered}))"
    return f"coalesce({listed}, '')"


def parse_sent(text: str | None) -> Iterable[tuple[str, str]]:
    """(event type, custom event name) of each conversion a `sent` list names."""
    for item in (text or "").split(","):
        if item:
            event_type, _sep, custom = item.partition(":")
            yield event_type, custom
