"""What a report asks: the grouping, the touch model, the date range and its kind, the trend, a cell."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

GROUPS = ("channel", "ai_source", "utm_source", "utm_medium", "utm_campaign", "landing_page", "form")
"""What rows can be grouped by."""

TOUCHES = ("first", "latest", "any")
"""Touch models: the first touch, the latest touch, or any touch that was AI (a submission then counts
once in each AI source its touches had)."""

DATES = ("lead", "won")
"""What the date range and the trend buckets apply to: the lead's date or the deal's won date."""

TRENDS = ("week", "month")
"""Trend buckets (weeks start on Monday, UTC)."""

METRICS = ("leads", "submissions", "meetings", "opportunities", "won", "conversions")
"""The cells that can be listed."""

NONE_LABEL = "(unattributed)"
"""The group of submissions that carry no value for the grouping (no attribution at all, for instance)."""

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReportError(ValueError):
    """A report parameter is invalid; the message names it and what was expected."""


@dataclass(frozen=True)
class Cell:
    """One cell of the report: a group value, a metric, and (with a trend) a bucket."""

    group: str
    metric: str = "leads"
    bucket: str | None = None

    @classmethod
    def parse(cls, text: str) -> Cell:
        """`[METRIC=]VALUE[@YYYY-MM-DD]`: `won=chatgpt`, `chatgpt@2026-09-07`, `(unattributed)`."""
        metric, value, bucket = "leads", text, None
        head, sep, tail = text.partition("=")
        if sep and head in METRICS:
            metric, value = head, tail
        rest, sep, day = value.rpartition("@")
        if sep and _DAY.match(day):
            value, bucket = rest, day
        if not value:
            raise ReportError(f"list: expected [METRIC=]VALUE[@YYYY-MM-DD], got {text!r}")
        return cls(value, metric, bucket)

    def __str__(self) -> str:
        return f"{self.metric}={self.group}" + (f"@{self.bucket}" if self.bucket else "")


@dataclass(frozen=True)
class ReportQuery:
    """One report: rows by `by`, touch model, [since, until] (days, UTC, both included) on `date`."""

    by: str = "ai_source"
    touch: str = "first"
    since: date | None = None
    until: date | None = None
    date: str = "lead"
    trend: str | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("by", self.by, GROUPS),
            ("touch", self.touch, TOUCHES),
            ("date", self.date, DATES),
        ):
            if value not in allowed:
                raise ReportError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
        if self.trend is not None and self.trend not in TRENDS:
            raise ReportError(f"trend: expected one of {', '.join(TRENDS)}, got {self.trend!r}")
        if self.since and self.until and self.until < self.since:
            raise ReportError(f"until: {self.until} is before since {self.since}")

    @property
    def start(self) -> datetime | None:
        return datetime(self.since.year, self.since.month, self.since.day, tzinfo=UTC) if self.since else None

    @property
    def end(self) -> datetime | None:
        """The first instant after the range (until is a whole day, included)."""
        if self.until is None:
            return None
        return datetime(self.until.year, self.until.month, self.until.day, tzinfo=UTC) + timedelta(days=1)

    def params(self) -> dict[str, str]:
        """The query as the string parameters `from_params` reads (for links and the CLI echo)."""
        values = {"by": self.by, "touch": self.touch, "date": self.date}
        for name, value in (("since", self.since), ("until", self.until), ("trend", self.trend)):
            if value:
                values[name] = str(value)
        return values


def parse_day(name: str, text: str | None) -> date | None:
    """A YYYY-MM-DD day, or None for an empty value; ReportError names the parameter otherwise."""
    if not text:
        return None
    if not _DAY.match(text.strip()):
        raise ReportError(f"{name}: expected a day as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{name}: {text!r} is not a calendar day") from None


def from_params(params: Mapping[str, str | None]) -> ReportQuery:
    """A ReportQuery from string parameters (an HTTP query string, the CLI's options); unknown keys ignored."""
    return ReportQuery(
        by=(params.get("by") or "ai_source").strip(),
        touch=(params.get("touch") or "first").strip(),
        since=parse_day("since", params.get("since")),
        until=parse_day("until", params.get("until")),
        date=(params.get("date") or "lead").strip(),
        trend=(params.get("trend") or "").strip() or None,
    )
