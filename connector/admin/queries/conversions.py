"""The Conversions page, per configured pixel: counts by status over recent windows, identifier coverage of
the latest events, OpenAI's latest error answers, and the latest validate_only test requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.admin.queries.bounded import COUNT_CAP, bounded_count, first_id_since
from connector.config import Settings
from connector.conversions.outcomes import IN_FLIGHT
from connector.conversions.setup import api_key
from connector.store.models import Conversion, ConversionRequest, ConversionStatus
from connector.timeutil import as_utc, utcnow

STATUSES = (
    ConversionStatus.PENDING,
    ConversionStatus.SENDING,
    ConversionStatus.SENT,
    ConversionStatus.VALIDATED,
    ConversionStatus.WOULD_SEND,
    ConversionStatus.FAILED,
    ConversionStatus.EXPIRED,
    ConversionStatus.SKIPPED,
)

WINDOWS = (("24 hours", timedelta(hours=24)), ("7 days", timedelta(days=7)))
"""The count columns: each counts the conversions created within it."""

COVERAGE_SAMPLE = 500
"""How many of a pixel's latest conversions the identifier coverage is measured on."""

ERRORS_SCANNED = 2000
"""How many of a pixel's latest requests are looked through for error answers."""

ERRORS_SHOWN = 10
TESTS_SHOWN = 5


@dataclass
class PixelView:
    """Everything the page shows for one pixel."""

    name: str
    pixel_id: str
    key_configured: bool
    counts: dict[str, list[tuple[int, bool]]] = field(default_factory=dict)
    """status -> one (count, more than the cap) per window."""
    coverage: dict[str, int] = field(default_factory=dict)
    sampled: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(count for row in self.counts.values() for count, _more in row)


def pixels(session: Session, settings: Settings, now: datetime | None = None) -> list[PixelView]:
    """One view per pixel in `conversions.pixels`, in the configuration's order."""
    now = now or utcnow()
    conf = settings.conversions
    starts = [
        first_id_since(session, Conversion.id, Conversion.created_at, now - span) for _l, span in WINDOWS
    ]
    views = []
    for name, pixel in conf.pixels.items():
        view = PixelView(name, pixel.pixel_id, api_key(conf, pixel) is not None)
        view.counts = {
            status: [_count(session, pixel.pixel_id, status, s) for s in starts] for status in STATUSES
        }
        view.coverage, view.sampled = coverage(session, pixel.pixel_id)
        refused, tests = _recent(session, pixel.pixel_id)
        view.errors = [request_view(r) for r in _requests(session, refused[:ERRORS_SHOWN])]
        view.tests = [request_view(r) for r in _requests(session, tests[:TESTS_SHOWN])]
        views.append(view)
    return views


def _count(session: Session, pixel_id: str, status: str, start: int | None) -> tuple[int, bool]:
    if start is None:
        return 0, False
    ids = select(Conversion.id).where(
        Conversion.pixel_id == pixel_id, Conversion.status == status, Conversion.id >= start
    )
    return bounded_count(session, ids, COUNT_CAP)


def coverage(session: Session, pixel_id: str, sample: int = COVERAGE_SAMPLE) -> tuple[dict[str, int], int]:
    """Of the pixel's latest `sample` conversions: how many carry an oppref, a hashed email, both, neither."""
    ids: list[int] = []
    for status in STATUSES:
        # One index range per status ((pixel_id, status, id)), merged: the newest ids of the pixel overall.
        ids += session.scalars(
            select(Conversion.id)
            .where(Conversion.pixel_id == pixel_id, Conversion.status == status)
            .order_by(Conversion.id.desc())
            .limit(sample)
        )
    latest = sorted(ids, reverse=True)[:sample]
    found = {"oppref": 0, "email": 0, "both": 0, "neither": 0}
    if not latest:
        return found, 0
    for payload in session.scalars(select(Conversion.payload).where(Conversion.id.in_(latest))):
        oppref, email = has_identifiers(payload or {})
        found["oppref"] += oppref
        found["email"] += email
        found["both"] += oppref and email
        found["neither"] += not (oppref or email)
    return found, len(latest)


def has_identifiers(payload: dict[str, Any]) -> tuple[bool, bool]:
    """(has an oppref, has a hashed email) in a Conversions API event, in either user-field format."""
    user = payload.get("user") or {}
    email = bool(user.get("emails_sha256") or user.get("email_sha256")) if isinstance(user, dict) else False
    return bool(payload.get("oppref")), email


def _recent(session: Session, pixel_id: str) -> tuple[list[int], list[int]]:
    """Ids of the refused and of the validate_only requests among the pixel's latest ERRORS_SCANNED, newest
    first: narrow columns of one index range, sorted out here (a planner-proof bound on the work)."""
    rows = session.execute(
        select(
            ConversionRequest.id,
            ConversionRequest.status_code,
            ConversionRequest.validate_only,
            (ConversionRequest.error.is_not(None) & (ConversionRequest.error != IN_FLIGHT)).label(
                "unanswered"
            ),
        )
        .where(ConversionRequest.pixel_id == pixel_id)
        .order_by(ConversionRequest.id.desc())
        .limit(ERRORS_SCANNED)
    ).all()
    refused = [
        r.id
        for r in rows
        if (r.status_code is not None and r.status_code >= 400) or (r.status_code is None and r.unanswered)
    ]
    return refused, [r.id for r in rows if r.validate_only]


def _requests(session: Session, ids: list[int]) -> list[ConversionRequest]:
    if not ids:
        return []
    found = {r.id: r for r in session.scalars(select(ConversionRequest).where(ConversionRequest.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def request_view(r: ConversionRequest) -> dict[str, Any]:
    """One request as the page shows it: when, what came back, and OpenAI's answer as it came."""
    return {
        "id": r.id,
        "started_at": as_utc(r.started_at),
        "status_code": r.status_code,
        "ok": r.status_code is not None and 200 <= r.status_code < 300,
        "event_count": r.event_count,
        "event_ids": list(r.event_ids or [])[:3],
        "validate_only": r.validate_only,
        "elapsed_ms": r.elapsed_ms,
        "body": (r.body or "")[:2000],
        "error": (r.error or "")[:2000],
    }
